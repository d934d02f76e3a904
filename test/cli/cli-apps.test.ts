// `appgrant apps …`: applications and client secrets, through the CLI as a child process.
import t from "tap";
import { cliOnFreshDir, createArgs, databaseBytes, field, json, MIGRATION_COUNT } from "../support/cli-helper.js";

t.test("apps create shows the client and webhook secrets once; show and list never do", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const created = await cli(...createArgs, "--webhook-url", "https://bot.example/hook");
  t.equal(created.code, 0, created.stderr);
  const secret = field(created.stdout, "client_secret");
  const id = field(created.stdout, "id")!;
  const webhookSecret = field(created.stdout, "webhook_secret");
  t.match(secret, /^ags_[0-9A-Za-z]{49}$/);
  t.match(webhookSecret, /^whsec_/);
  t.match(field(created.stdout, "client_id"), /\S+/);
  t.equal(field(created.stdout, "scopes"), "read write");
  t.equal(field(created.stdout, "webhook_url"), "https://bot.example/hook");
  t.match(created.stdout, /shown only this once/);
  t.match(created.stderr, new RegExp(`applied ${MIGRATION_COUNT} migration`), "a fresh data directory is migrated first");
  const stored = databaseBytes(dbFile);
  t.notOk(stored.includes(secret!), "only a hash of the client secret is stored");
  t.notOk(stored.includes(webhookSecret!), "the webhook secret is not stored in the clear");

  const [showHuman, showJson, listHuman, listJson] = await Promise.all([
    cli("apps", "show", id),
    cli("apps", "show", id, "--json"),
    cli("apps", "list"),
    cli("apps", "list", "--json"),
  ]);
  for (const result of [showHuman, showJson, listHuman, listJson]) {
    t.equal(result.code, 0, result.stderr);
    t.notOk(result.stdout.includes(secret!), "no client secret after creation");
    t.notOk(result.stdout.includes(webhookSecret!), "no webhook secret after creation");
    t.notMatch(result.stdout + result.stderr, /ags_|agw_|whsec_|client_secret/);
  }
  t.equal(field(showHuman.stdout, "name"), "Deploy Bot");
  t.match(showHuman.stdout, /redirect_uris:\s+https:\/\/bot\.example\/cb/);
  const shown = JSON.parse(showJson.stdout);
  t.match(shown, { id, name: "Deploy Bot", redirect_uris: ["https://bot.example/cb"], scopes: ["read", "write"], client_type: "confidential" });
  t.match(listHuman.stdout, /^ID\s+CLIENT_ID\s+NAME/);
  t.match(listHuman.stdout, new RegExp(`${id}\\s+${shown.client_id}\\s+Deploy Bot`));
  t.same(JSON.parse(listJson.stdout), { items: [shown], next_cursor: null });
});

t.test("apps create --json carries the secret; --scopes splits; --public has none", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const confidential = await cli(
    "apps",
    "create",
    "--json",
    "--name",
    "A",
    "--redirect-uri",
    "https://a.example/cb",
    "--scopes",
    "read, write admin",
  );
  const body = json(confidential);
  t.match(body.client_secret, /^ags_/);
  t.match(body.webhook_secret, /^whsec_/);
  t.same(body.scopes, ["read", "write", "admin"]);
  t.match(confidential.stderr, /shown only this once/, "the warning goes to stderr, keeping stdout JSON");

  const publicApp = json(
    await cli("apps", "create", "--json", "--public", "--name", "P", "--redirect-uri", "http://localhost:9000/cb", "--scope", "read"),
  );
  t.equal(publicApp.client_type, "public");
  t.equal(publicApp.client_secret, null);

  const page = json(await cli("apps", "list", "--json", "--limit", "1"));
  t.same(
    page.items.map((app: { id: string }) => app.id),
    [body.id],
  );
  t.equal(page.next_cursor, body.id);
  const next = json(await cli("apps", "list", "--json", "--limit", "1", "--cursor", page.next_cursor));
  t.same(
    next.items.map((app: { id: string }) => app.id),
    [publicApp.id],
  );
});

t.test("add-secret issues a rotation secret once and refuses a third active one", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const added = await cli("apps", "add-secret", app.id, "--expires-at", "2099-01-01T00:00:00Z");
  t.equal(added.code, 0, added.stderr);
  const second = field(added.stdout, "client_secret")!;
  t.match(second, /^ags_/);
  t.not(second, app.client_secret);
  t.equal(field(added.stdout, "expires_at"), "2099-01-01T00:00:00.000Z");

  const third = await cli("apps", "add-secret", app.id);
  t.equal(third.code, 1);
  t.match(third.stderr, /at most 2 active secrets/);
  t.notMatch(third.stdout, /ags_/);

  const secrets = json(await cli("apps", "secrets", app.id, "--json"));
  t.equal(secrets.items.length, 2);
  t.notMatch(JSON.stringify(secrets), /ags_|client_secret/);
  const rotatedOut = secrets.items.find((item: { expires_at: string | null }) => item.expires_at === null);

  const deleted = await cli("apps", "delete-secret", app.id, rotatedOut.id);
  t.equal(deleted.code, 0, deleted.stderr);
  const again = await cli("apps", "delete-secret", app.id, rotatedOut.id);
  t.equal(again.code, 1, "it is gone: deleting it again is not found");
  t.match(again.stderr, /secret not found/);
});

t.test("apps grant-types sets an application's grant types, validated; apps create --grant-type too", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  t.same(app.grant_types, ["authorization_code", "refresh_token"]);
  const set = await cli("apps", "grant-types", app.client_id, "authorization_code", "refresh_token", "client_credentials", "--json");
  t.equal(set.code, 0, set.stderr);
  t.same(json(set).grant_types, ["authorization_code", "refresh_token", "client_credentials"], "by client_id, several at once");
  t.same(json(await cli("apps", "show", app.id, "--json")).grant_types, ["authorization_code", "refresh_token", "client_credentials"], "stored");
  const unknown = await cli("apps", "grant-types", app.id, "password");
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /grant_types: must each be one of authorization_code, refresh_token, client_credentials/);
  t.equal((await cli("apps", "grant-types", app.id)).code, 2, "at least one grant type");
  const created = json(await cli(...createArgs, "--grant-type", "client_credentials", "--json"));
  t.same(created.grant_types, ["client_credentials"]);
  const publicOne = await cli(...createArgs, "--public", "--grant-type", "client_credentials");
  t.not(publicOne.code, 0, "client_credentials is for confidential clients");
});
