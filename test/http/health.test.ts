import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { Writable } from "node:stream";
import t from "tap";
import { buildApp } from "../../src/main/app.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";

t.test("/healthz answers ok without authentication, even with the admin API disabled", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_ADMIN_TOKEN: "" });
  const res = await test.app.inject({ method: "GET", url: "/healthz" });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: "ok" });
});

t.test("/readyz answers ready while the database answers", async (t) => {
  const test = await buildTestApp(t);
  const res = await test.app.inject({ method: "GET", url: "/readyz" });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: "ready" });
});

t.test("/readyz answers 503 once the database cannot be reached, while /healthz stays ok", async (t) => {
  const test = await buildTestApp(t);
  t.equal((await test.app.inject({ method: "GET", url: "/readyz" })).statusCode, 200);

  const database = test.config.database;
  if (database.kind === "sqlite") {
    // Lose the database: drop the connection and take away the directory it lived in
    // (a volume unmounted under the process), so reconnecting cannot succeed.
    await test.app.domain.db.$disconnect();
    rmSync(dirname(database.path), { recursive: true, force: true });
  }
  // PostgreSQL: a pool re-opens connections on demand, so the honest equivalent is a
  // server that does not answer.
  const target = database.kind === "sqlite" ? test : await unreachablePostgres(t, test);

  const res = await target.app.inject({ method: "GET", url: "/readyz" });
  t.equal(res.statusCode, 503);
  t.same(res.json(), { status: "database unreachable" });
  t.ok(
    target.logs.some((line) => /^(database unavailable|readiness check failed)$/.test(JSON.parse(line).msg)),
    "the failure is logged for the operator",
  );

  const health = await target.app.inject({ method: "GET", url: "/healthz" });
  t.equal(health.statusCode, 200, "the process itself is still up");
  t.same(health.json(), { status: "ok" });
});

/** An app configured like `test` but on a PostgreSQL port where nothing listens. */
async function unreachablePostgres(t: { teardown(fn: () => unknown): void }, test: TestApp): Promise<Pick<TestApp, "app" | "logs">> {
  if (test.config.database.kind !== "postgres") throw new Error("PostgreSQL only");
  const url = new URL(test.config.database.url);
  url.hostname = "127.0.0.1";
  url.port = "1";
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({ config: { ...test.config, database: parseDatabaseUrl(url.toString()) }, logStream });
  t.teardown(() => app.close());
  return { app, logs };
}
