// `appgrant device accept|reject <user_code>`: the verification page's two answers from
// the operator's shell, on device authorizations a server process started (same database,
// same server key: the user code is found by its keyed hash).
import { randomBytes } from "node:crypto";
import t from "tap";
import { buildApp } from "../../src/main/app.js";
import { loadConfig } from "../../src/main/config.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { cliOnFreshDir, createArgs, databaseBytes, field, json } from "../support/cli-helper.js";

t.test("device accept installs and answers the CLI's poll; device reject; a second answer is refused", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const env = { APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"), APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device" };
  const app = json(await cli.env(env, ...createArgs, "--public", "--grant-type", DEVICE_CODE_GRANT, "--grant-type", "refresh_token", "--json"));
  const server = await buildApp({ config: loadConfig({ ...env, DATABASE_URL: `file:${dbFile}`, LOG_LEVEL: "silent" }) });
  t.teardown(() => server.close());
  const start = async () => {
    const res = await server.inject({
      method: "POST",
      url: "/oauth/device_authorization",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `client_id=${app.client_id}`,
    });
    t.equal(res.statusCode, 200, res.body);
    return res.json() as { device_code: string; user_code: string };
  };
  const poll = (deviceCode: string) =>
    server.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}&device_code=${deviceCode}&client_id=${app.client_id}`,
    });

  const first = await start();
  const accepted = await cli.env(env, "device", "accept", first.user_code.toLowerCase(), "--account", "acme", "--scope", "read");
  t.equal(accepted.code, 0, accepted.stderr);
  t.equal(field(accepted.stdout, "status"), "accepted");
  t.equal(field(accepted.stdout, "granted_scopes"), "read");
  const installationId = field(accepted.stdout, "installation_id");
  const tokens = await poll(first.device_code);
  t.equal(tokens.statusCode, 200, tokens.body);
  t.match(tokens.json(), { scope: "read", installation_id: installationId });

  const again = await cli.env(env, "device", "reject", first.user_code);
  t.equal(again.code, 1, "a second answer is refused");
  t.match(again.stderr, /already accepted/);

  const second = await start();
  const rejected = json(await cli.env(env, "device", "reject", second.user_code, "--json"));
  t.match(rejected, { client_id: app.client_id, status: "rejected" });
  t.equal((await poll(second.device_code)).json().error, "access_denied");

  const unknown = await cli.env(env, "device", "accept", "ZZZZ-ZZZZ", "--account", "acme");
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /device authorization not found/);
  const usage = await cli.env(env, "device", "accept", second.user_code);
  t.equal(usage.code, 2, "--account is required");
  const stored = databaseBytes(dbFile);
  for (const code of [first.user_code, second.user_code, first.device_code]) t.notOk(stored.includes(code), "no code is stored as typed");
});
