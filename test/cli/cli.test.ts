// The operator CLI as a whole: migrations, usage and exit codes, configuration errors.
import { existsSync, readFileSync } from "node:fs";
import t from "tap";
import { cliOnFreshDir, MIGRATION_COUNT } from "../support/cli-helper.js";

t.test("migrate applies the migrations once, then reports up to date", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const first = await cli("migrate");
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, new RegExp(`applied ${MIGRATION_COUNT} migration`));
  t.match(first.stdout, /_init/);
  t.ok(existsSync(dbFile), "the data directory and database are created");
  const second = await cli("migrate");
  t.equal(second.code, 0);
  t.match(second.stdout, /up to date/);
});

t.test("exit codes: 2 for usage errors, 1 for refusals, 0 for help", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const [none, unknown, unknownSub, missingFlag, missingId, extra, badOption, badLimit, badStatus, badDate, notFound, help, commandHelp] =
    await Promise.all([
      cli(),
      cli("frobnicate"),
      cli("apps", "frob"),
      cli("apps", "create", "--redirect-uri", "https://a.example/cb", "--scope", "read"),
      cli("apps", "show"),
      cli("apps", "show", "a", "b"),
      cli("apps", "list", "--bogus"),
      cli("apps", "list", "--limit", "0"),
      cli("installs", "list", "--status", "paused"),
      cli("apps", "add-secret", "some-id", "--expires-at", "soon"),
      cli("installs", "show", "01a21555-0000-7000-8000-000000000000"),
      cli("--help"),
      cli("installs", "create", "--help"),
    ]);
  t.equal(none.code, 2);
  t.match(none.stderr, /Usage: appgrant <command>/);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);
  t.match(unknown.stderr, /Usage:/);
  t.equal(unknownSub.code, 2);
  t.match(unknownSub.stderr, /apps create/, "the group's usage is shown");
  t.equal(missingFlag.code, 2);
  t.match(missingFlag.stderr, /--name is required/);
  t.match(missingFlag.stderr, /Usage: appgrant apps create/);
  t.equal(missingId.code, 2);
  t.match(missingId.stderr, /missing <id>/);
  t.equal(extra.code, 2);
  t.equal(badOption.code, 2);
  t.match(badOption.stderr, /--bogus/);
  t.equal(badLimit.code, 2);
  t.match(badLimit.stderr, /--limit/);
  t.equal(badStatus.code, 2);
  t.match(badStatus.stderr, /--status must be one of active, suspended, uninstalled/);
  t.equal(badDate.code, 2);
  t.match(badDate.stderr, /--expires-at must be an ISO 8601 date-time/);
  t.equal(notFound.code, 1);
  t.match(notFound.stderr, /installation not found/);
  t.equal(help.code, 0);
  t.match(help.stdout, /appgrant installs reissue-code <id>/);
  t.match(help.stdout, /appgrant studio/);
  t.equal(commandHelp.code, 0);
  t.match(commandHelp.stdout, /Usage: appgrant installs create --client-id C --account A/);
});

t.test("a bad environment variable is named, with exit code 2", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const [port, database, admin] = await Promise.all([
    cli.env({ PORT: "abc" }, "apps", "list"),
    cli.env({ DATABASE_URL: "mysql://x" }, "migrate"),
    cli.env({ APPGRANT_ADMIN_TOKEN: "short" }, "installs", "list"),
  ]);
  t.equal(port.code, 2);
  t.match(port.stderr, /PORT: must be a whole number/);
  t.equal(database.code, 2);
  t.match(database.stderr, /DATABASE_URL/);
  t.equal(admin.code, 2);
  t.match(admin.stderr, /APPGRANT_ADMIN_TOKEN/);
  t.notMatch(admin.stderr, /short/, "the rejected value of a secret variable is not echoed");
});

t.test("--version prints the package's name and version", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  for (const flag of ["--version", "-v"]) {
    const res = await cli(flag);
    t.equal(res.code, 0);
    t.equal(res.stdout, `appgrant ${version}\n`, flag);
  }
});
