// The CLI names applications the way operators know them (the id or the client_id), and
// asks for --force before deleting the secret an application cannot do without.
import t from "tap";
import { cliOnFreshDir, createArgs, field, json } from "../support/cli-helper.js";

t.test("apps show accepts the client_id as well as the id", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const [byId, byClientId, human, missing] = await Promise.all([
    cli("apps", "show", app.id, "--json"),
    cli("apps", "show", app.client_id, "--json"),
    cli("apps", "show", app.client_id),
    cli("apps", "show", "no-such-app"),
  ]);
  t.same(json(byClientId), json(byId), "the same application either way");
  t.equal(json(byClientId).id, app.id);
  t.equal(field(human.stdout, "id"), app.id);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /application not found/);
});

t.test("installs list --client-id accepts the application's id as well as its client_id", async (t) => {
  const { cli } = cliOnFreshDir(t);
  // Migrated first, so the parallel commands below do not race to migrate.
  const app = json(await cli(...createArgs, "--json"));
  const other = json(await cli("apps", "create", "--name", "Other", "--redirect-uri", "https://o.example/cb", "--scope", "read", "--json"));
  const [mine] = await Promise.all([
    cli("installs", "create", "--client-id", app.client_id, "--account", "acme", "--json").then(json),
    cli("installs", "create", "--client-id", other.client_id, "--account", "acme", "--json").then(json),
  ]);
  const [byClientId, byId, human, unknown] = await Promise.all([
    cli("installs", "list", "--client-id", app.client_id, "--json"),
    cli("installs", "list", "--client-id", app.id, "--json"),
    cli("installs", "list", "--client-id", app.id),
    cli("installs", "list", "--client-id", "nope", "--json"),
  ]);
  for (const [listed, name] of [
    [byClientId, "<client_id>"],
    [byId, "<id>"],
  ] as const) {
    t.same(
      json(listed).items.map((item: { id: string }) => item.id),
      [mine.id],
      `--client-id ${name} lists only that application's installations`,
    );
  }
  t.match(human.stdout, new RegExp(`${mine.id}\\s+${app.client_id}\\s+acme`));
  t.same(json(unknown).items, [], "an unknown reference lists nothing");
});

t.test("apps delete-secret refuses the last working secret without --force", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const [secret] = json(await cli("apps", "secrets", app.id, "--json")).items;
  const refused = await cli("apps", "delete-secret", app.id, secret.id);
  t.equal(refused.code, 1, "refused");
  t.match(refused.stderr, /last working client secret/);
  t.match(refused.stderr, /--force/, "the operator is told how to insist");
  t.notMatch(refused.stderr, /force=true/, "in the CLI's own words, not the API's");
  t.equal(json(await cli("apps", "secrets", app.id, "--json")).items.length, 1, "still there");
  const forced = await cli("apps", "delete-secret", app.id, secret.id, "--force");
  t.equal(forced.code, 0, forced.stderr);
  t.same(json(await cli("apps", "secrets", app.id, "--json")).items, []);
});
