// The lock-out scenarios (lock-out.test.ts) through Redis, and a restart during an
// attack: a secret verified by any process is recognised by the restarted one.
import { Writable } from "node:stream";
import t from "tap";
import { buildApp } from "../../src/main/app.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { exchange, newInstallation, setup } from "../support/oauth-helper.js";
import { FAILURES, introspect, lockOutScenarios, wrongSecret } from "./lock-out-scenarios.js";
import { REDIS_URL, uniquePrefix } from "./redis-helper.js";

lockOutScenarios(t, { name: "through Redis", env: () => ({ REDIS_URL, APPGRANT_REDIS_PREFIX: uniquePrefix() }) });

t.test("through Redis: after a restart during an attack, the client's first request is served", async (t) => {
  const env = { REDIS_URL, APPGRANT_REDIS_PREFIX: uniquePrefix(), APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES) };
  const first = await buildTestApp(t, env);
  const { client } = await setup(first);
  const installation = await newInstallation(first, client);
  for (let i = 0; i < 3 * FAILURES; i++) await introspect(first, `10.66.5.${i + 1}`, client.client_id, wrongSecret(), "x");
  await first.close();

  const logs: string[] = [];
  const logStream = new Writable({
    write: (chunk, _encoding, done) => {
      logs.push(String(chunk));
      done();
    },
  });
  const restarted = await buildApp({ config: first.config, clock: first.clock, logStream });
  t.teardown(() => restarted.close());
  const second: TestApp = { ...first, app: restarted, logs, close: () => restarted.close() };
  for (let i = 0; i < 3 * FAILURES; i++) await introspect(second, `10.66.6.${i + 1}`, client.client_id, wrongSecret(), "x");
  const res = await exchange(second, client, installation.code);
  t.equal(res.statusCode, 200, "a secret verified by any process within the window is recognised without argon2");
});
