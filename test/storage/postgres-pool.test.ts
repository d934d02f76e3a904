// The PostgreSQL pool's deadlines (src/storage/postgres.ts): what the server is told, and
// what happens to a statement that outlives its deadline and to its connection.
import t from "tap";
import { DEFAULT_DATABASE_SETTINGS, parsePostgresUrl } from "../../src/storage/settings.js";
import { createPool } from "../../src/storage/postgres.js";
import { createPostgresTokenStore } from "../../src/storage/postgres-token-store.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { isDatabaseUnavailable } from "../../src/shared/database-unavailable.js";
import { DependencyStatus } from "../../src/shared/dependency-status.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { freshDatabase } from "../support/helper.js";

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

if (!TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: the pool is PostgreSQL's");
} else {
  t.test("the server enforces the deadlines too, and sees appgrant by name", async (t) => {
    const url = await freshDatabase(t);
    const { pool, end } = createPool(parsePostgresUrl(url), { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 1500 });
    t.teardown(() => end(1000));
    const setting = async (name: string) => (await pool.query(`SELECT current_setting('${name}') AS value`)).rows[0].value as string;
    t.equal(await setting("application_name"), "appgrant", "application_name, for pg_stat_activity");
    t.equal(await setting("statement_timeout"), "1500ms", "statement_timeout is the query deadline");
    t.equal(await setting("idle_in_transaction_session_timeout"), "10s", "an abandoned transaction is ended by the server");

    const named = new URL(url);
    named.searchParams.set("application_name", "appgrant-eu-1");
    const other = createPool(parsePostgresUrl(named.toString()));
    t.teardown(() => other.end(1000));
    t.equal(
      (await other.pool.query("SELECT current_setting('application_name') AS value")).rows[0].value,
      "appgrant-eu-1",
      "DATABASE_URL's own name wins",
    );
  });

  t.test("the token store's statements are prepared once per connection, then executed by name", async (t) => {
    const url = await freshDatabase(t);
    await migrateDatabase(parsePostgresUrl(url));
    const { pool, end } = createPool(parsePostgresUrl(url), { ...DEFAULT_DATABASE_SETTINGS, poolSize: 1 });
    t.teardown(() => end(1000));
    const store = createPostgresTokenStore(pool);
    const now = new Date();
    for (let i = 0; i < 3; i++) {
      t.equal(await store.findClient("no-such-client", now), null);
      t.equal(await store.findByAccess({ selector: "00000000-0000-7000-8000-000000000000", hash: "0".repeat(64) }), null);
    }
    const { rows } = await pool.query<{ name: string; calls: string }>(
      "SELECT name, generic_plans + custom_plans AS calls FROM pg_prepared_statements ORDER BY name",
    );
    t.strictSame(
      rows.map((row) => [row.name, Number(row.calls)]),
      [
        ["appgrant_1", 3],
        ["appgrant_2", 3],
      ],
      "two named statements on the one connection, each prepared once and run three times",
    );
  });

  t.test("a slow statement is cancelled by the server at its deadline, as unavailable, and the pool goes on", async (t) => {
    const url = await freshDatabase(t);
    const { pool, end } = createPool(parsePostgresUrl(url), { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 300, poolSize: 1 });
    t.teardown(() => end(1000));
    const started = performance.now();
    const error = await pool.query("SELECT pg_sleep(3)").then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    t.ok(isDatabaseUnavailable(error), `unavailable: ${(error as Error | undefined)?.message}`);
    t.match(error, { code: "57014" }, "cancelled by the server (statement_timeout)");
    t.ok(ms < 300 + 1000, `in ${ms.toFixed(0)} ms (deadline 300 ms)`);
    t.same((await pool.query("SELECT 1 AS one")).rows, [{ one: 1 }], "the next statement is served");
  });

  t.test("a connection whose answer never comes is destroyed, not reused, and nothing is unhandled", async (t) => {
    const proxy = await FaultProxy.start(FaultProxy.targetOf(TEST_DATABASE_URL, 5432));
    t.teardown(() => proxy.close());
    const url = await freshDatabase(t);
    const lines: string[] = [];
    const status = new DependencyStatus("database", { error: (_o, message) => lines.push(message), info: (_o, message) => lines.push(message) });
    const { pool, end } = createPool(
      parsePostgresUrl(proxy.rewrite(url)),
      { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 300, connectTimeoutMs: 300, poolSize: 1 },
      status,
    );
    t.teardown(() => end(1000));
    await pool.query("SELECT 1");
    t.equal(pool.totalCount, 1);

    await proxy.setMode("blackhole");
    const started = performance.now();
    await t.rejects(pool.query("SELECT 1"), { message: "Query read timeout" });
    t.ok(performance.now() - started < 300 + 250 + 1000, "within the deadline (and the grace left to the server's)");
    t.equal(pool.totalCount, 0, "the connection was dropped from the pool");
    await t.rejects(pool.query("SELECT 1"), { message: /timeout/ }, "a new connection cannot be made either, within its own deadline");

    await proxy.setMode("pass");
    t.same((await pool.query("SELECT 1 AS one")).rows, [{ one: 1 }], "served again once the database answers");
    t.same(lines, ["database unavailable", "database available again"], "the outage, logged twice");

    // An idle connection reset under the pool (a server restart): the pool's 'error'
    // event has a listener, so the process lives on.
    proxy.resetAll();
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.same((await pool.query("SELECT 1 AS one")).rows, [{ one: 1 }], "and after an idle connection was reset");
  });

  t.test("lookups batched together all fail as unavailable when the database is, and nothing is unhandled", async (t) => {
    const url = await freshDatabase(t);
    const proxy = await FaultProxy.start(FaultProxy.targetOf(TEST_DATABASE_URL, 5432));
    t.teardown(() => proxy.close());
    const { pool, end } = createPool(parsePostgresUrl(proxy.rewrite(url)), { ...DEFAULT_DATABASE_SETTINGS, connectTimeoutMs: 500 });
    t.teardown(() => end(1000));
    const store = createPostgresTokenStore(pool);
    const now = new Date();
    const selector = "00000000-0000-7000-8000-000000000000";
    t.equal(await store.findClient("no-such-client", now), null, "answered through the proxy");
    await proxy.setMode("refuse");
    proxy.resetAll();
    const outcomes = await Promise.allSettled([
      store.findClient("no-such-client", now),
      store.findClient("another-client", now),
      store.findTokenByRefresh({ selector, hash: "0".repeat(64) }),
      store.findByAccess({ selector, hash: "0".repeat(64) }),
    ]);
    t.strictSame(
      outcomes.map((outcome) => outcome.status === "rejected" && isDatabaseUnavailable(outcome.reason)),
      [true, true, true, true],
      "each request of the batch is told the database is unavailable",
    );
    await proxy.setMode("pass");
    t.equal(await store.findClient("no-such-client", now), null, "and answered again once it is back");
  });
}
