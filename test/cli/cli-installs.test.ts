// `appgrant installs …`: installations and their codes, through the CLI as a child process.
import t from "tap";
import { cliOnFreshDir, createArgs, databaseBytes, field, json } from "../support/cli-helper.js";

t.test("installs: create prints the code once; show, list filters, uninstall", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const created = await cli("installs", "create", "--client-id", app.client_id, "--account", "acme");
  t.equal(created.code, 0, created.stderr);
  const code = field(created.stdout, "code")!;
  const id = field(created.stdout, "id")!;
  t.match(code, /^agc_/);
  t.equal(field(created.stdout, "scopes"), "read write", "defaults to all the application's scopes");
  const redirect = new URL(field(created.stdout, "redirect_to")!);
  t.equal(redirect.origin + redirect.pathname, "https://bot.example/cb");
  t.match(Object.fromEntries(redirect.searchParams), { code, installation_id: id, account: "acme" });
  t.notOk(databaseBytes(dbFile).includes(code), "only a hash of the code is stored");

  const [duplicate, otherRun, tooWide] = await Promise.all([
    cli("installs", "create", "--client-id", app.client_id, "--account", "acme"),
    cli("installs", "create", "--json", "--client-id", app.client_id, "--account", "globex", "--scope", "read"),
    cli("installs", "create", "--client-id", app.client_id, "--account", "initech", "--scope", "admin"),
  ]);
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /already has an active installation/);
  const other = json(otherRun);
  t.same(other.scopes, ["read"]);
  t.match(other.code, /^agc_/);
  t.ok(other.code_expires_at);
  t.equal(tooWide.code, 1);
  t.match(tooWide.stderr, /not allowed for this application: admin/);

  const shown = json(await cli("installs", "show", id, "--json"));
  t.match(shown, { id, client_id: app.client_id, account: "acme", status: "active", scopes: ["read", "write"] });
  t.ok(shown.code_expires_at, "the code is still pending");
  t.notOk("code" in shown, "the code itself is never shown again");

  const uninstalled = await cli("installs", "uninstall", id);
  t.equal(uninstalled.code, 0, uninstalled.stderr);
  t.equal(field(uninstalled.stdout, "status"), "uninstalled");
  const [afterShow, reissueRefused] = await Promise.all([cli("installs", "show", id), cli("installs", "reissue-code", id)]);
  t.match(field(afterShow.stdout, "code_expires_at"), /none pending/);
  t.equal(reissueRefused.code, 1, "an uninstalled installation gets no new code");
  t.match(reissueRefused.stderr, /uninstalled/);

  const ids = async (...filters: string[]) => json(await cli("installs", "list", "--json", ...filters)).items.map((item: { id: string }) => item.id);
  const [byAccount, active, gone, byClient, listed] = await Promise.all([
    ids("--account", "globex"),
    ids("--status", "active"),
    ids("--status", "uninstalled"),
    ids("--client-id", app.client_id),
    cli("installs", "list"),
  ]);
  t.same(byAccount, [other.id]);
  t.same(active, [other.id]);
  t.same(gone, [id]);
  t.same(byClient, [id, other.id]);
  t.match(listed.stdout, /^ID\s+CLIENT_ID\s+ACCOUNT\s+STATUS/);
  t.match(listed.stdout, new RegExp(`${other.id}\\s+${app.client_id}\\s+globex\\s+active`));
  t.notMatch(listed.stdout, /agc_/, "codes are never listed");

  const reissued = json(await cli("installs", "reissue-code", other.id, "--json"));
  t.match(reissued.code, /^agc_/);
  t.not(reissued.code, other.code);

  // Deleting the application takes its installations with it.
  t.same(json(await cli("apps", "delete", app.id, "--json")), { id: app.id, deleted: true });
  const [appGone, installsGone] = await Promise.all([cli("apps", "show", app.id), cli("installs", "list", "--json")]);
  t.equal(appGone.code, 1);
  t.match(appGone.stderr, /application not found/);
  t.same(json(installsGone).items, []);
});
