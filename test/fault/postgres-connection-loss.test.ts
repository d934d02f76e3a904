// Issue 8, defect 1: a server process on PostgreSQL whose connections are lost (its
// backends terminated by an operator, a server restart, a failover, a network reset)
// stays up. The requests that needed the database meanwhile get 503 + Retry-After in
// their endpoint's error shape, and the process serves again as soon as the database
// is back. It used to exit 1 on the pool's unhandled 'error' event when only /oauth/*
// had been used since start (Prisma's adapter adds a listener on its first query).
//
// A real server process (`node --import tsx src/main/server.ts`), readiness polled on
// /healthz so nothing but /oauth/* touches the database before the fault; its
// connections go through a FaultProxy and carry an application_name of their own. Its
// metrics say the database is down while it refuses connections, and up after.
import { randomBytes } from "node:crypto";
import pg from "pg";
import t, { type Test } from "tap";
import { FaultProxy } from "../support/fault-proxy.js";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { http, type HttpResult, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";
import { buildFaultApp, seed } from "./fault-helper.js";

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
const CONNECT_TIMEOUT = 1000;
const QUERY_TIMEOUT = 2000;

if (!TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: this fault needs PostgreSQL");
} else {
  t.test("a server process whose PostgreSQL connections are lost stays up and serves again", (t) => main(t, TEST_DATABASE_URL));
}

/** Polls `check` every 25 ms until it is true; false if `ms` pass first. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function main(t: Test, testDatabaseUrl: string): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  let server: ServerProcess | undefined;
  let proxy: FaultProxy | undefined;
  const direct = new pg.Client({ connectionString: testDatabaseUrl });
  t.teardown(async () => {
    if (server && t.passing() === false) t.comment(`--- last log lines ---\n${server.log.slice(-60).join("\n")}`);
    if (server) await stopServer(server);
    await proxy?.close();
    await direct.end().catch(() => undefined);
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const databaseUrl = await freshDatabase({ teardown: (fn) => cleanups.push(fn) });
  const secretKey = randomBytes(32).toString("hex");
  const seeding = await buildFaultApp({ teardown: (fn) => cleanups.push(fn) }, databaseUrl, { APPGRANT_SECRET_KEY: secretKey, LOG_LEVEL: "silent" });
  const { client, codes } = await seed(seeding.app, 1);
  await seeding.close();

  proxy = await FaultProxy.start(FaultProxy.targetOf(testDatabaseUrl, 5432));
  const applicationName = `appgrant-fault-${randomBytes(4).toString("hex")}`;
  const url = new URL(proxy.rewrite(databaseUrl));
  url.searchParams.set("application_name", applicationName);
  server = await startServer({
    name: "pg-connection-loss",
    readyPath: "/healthz",
    env: {
      DATABASE_URL: url.toString(),
      APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
      APPGRANT_SECRET_KEY: secretKey,
      APPGRANT_DB_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT),
      APPGRANT_DB_QUERY_TIMEOUT: String(QUERY_TIMEOUT),
      APPGRANT_METRICS_PORT: "0",
      LOG_LEVEL: "info",
    },
  });
  const live = server;
  // The management listener's port (the OS picked it), from its start-up line.
  const metricsPort = live.log
    .map((line) => /"port":(\d+).*"msg":"metrics served on the management listener"/.exec(line)?.[1])
    .find((port) => port !== undefined);
  /** appgrant_dependency_up{dependency="database"} as a scrape of the process reads it. */
  const databaseUp = async (): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const series = 'appgrant_dependency_up{dependency="database"} ';
    const line = text.split("\n").find((l) => l.startsWith(series));
    return line === undefined ? undefined : Number(line.slice(series.length));
  };
  // A request to a process that died is an answer too (status 0), so the test reports it instead of throwing.
  const request = (method: string, path: string, options: Parameters<typeof http>[3] = {}): Promise<HttpResult> =>
    http(live, method, path, options).catch((error: unknown) => ({ status: 0, body: { failed: String(error) }, server: live.name }));
  const token = (fields: Record<string, string>) => request("POST", "/oauth/token", { form: { ...client, ...fields } });
  const introspect = (value: string) => request("POST", "/oauth/introspect", { bearer: ADMIN_TOKEN, form: { token: value } });

  const first = await token({ grant_type: "authorization_code", code: codes[0]! });
  t.equal(first.status, 200, "one code exchange through /oauth/token", { got: first.body });
  let refreshToken = String(first.body.refresh_token);
  const accessToken = String(first.body.access_token);

  await direct.connect();
  const backends = async () =>
    (await direct.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [applicationName])).rows[0]!.n;
  t.ok((await backends()) >= 1, "the process holds an idle pool connection, visible by its application_name");

  await t.test("its idle connections terminated by pg_terminate_backend: the process stays up", async (t) => {
    // Two steps: in one WHERE clause the planner may call pg_terminate_backend before
    // filtering, on every backend of the shared server.
    const pids = (await direct.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [applicationName])).rows;
    const { rows } = await direct.query<{ n: number }>("SELECT count(*)::int AS n FROM unnest($1::int[]) AS pid WHERE pg_terminate_backend(pid)", [
      pids.map((row) => row.pid),
    ]);
    t.ok(rows[0]!.n >= 1, `${rows[0]!.n} backend(s) terminated`);
    t.ok(await until(async () => (await backends()) === 0 && proxy!.connections === 0, 5000), "the backends and their connections are gone");
    // A request may still meet a connection whose loss the pool has not seen yet: that
    // one gets a 503, and the next is served on a new connection.
    const statuses: number[] = [];
    const back = performance.now();
    const served = await until(async () => statuses[statuses.push((await introspect(accessToken)).status) - 1] === 200, 1000);
    t.ok(served, `served again ${(performance.now() - back).toFixed(0)} ms later (limit 1000 ms)`);
    t.ok(
      statuses.every((status) => status === 200 || status === 503),
      `only 200 or 503 meanwhile (${statuses.join(", ")})`,
    );
    const res = await token({ grant_type: "refresh_token", refresh_token: refreshToken });
    t.equal(res.status, 200, "token requests too", { got: res.body });
    if (res.status === 200) refreshToken = String(res.body.refresh_token);
    t.equal(live.exited, null, "the process is still running");
  });

  await t.test("the database refuses connections: 503 + Retry-After in each endpoint's shape, then served within 1 s of its return", async (t) => {
    await proxy!.setMode("refuse"); // also resets every open connection, as a server restart does
    const timed = async (kind: string, answer: Promise<HttpResult>) => {
      const sent = performance.now();
      const res = await answer;
      const ms = performance.now() - sent;
      t.ok(ms < CONNECT_TIMEOUT + QUERY_TIMEOUT + 1000, `${kind}: answered in ${ms.toFixed(0)} ms (within the deadlines)`);
      return res;
    };
    const answers = {
      token: await timed("token", token({ grant_type: "refresh_token", refresh_token: refreshToken })),
      introspect: await timed("introspect", introspect(accessToken)),
      admin: await timed("admin", request("GET", "/admin/v1/applications", { bearer: ADMIN_TOKEN })),
      readyz: await timed("readyz", request("GET", "/readyz")),
    };
    for (const [kind, res] of Object.entries(answers)) t.equal(res.status, 503, `${kind} answers 503`, { got: res.body });
    t.same(Object.keys(answers.token.body).sort(), ["error", "error_description"], "an RFC 6749 error body");
    t.equal(answers.token.body.error, "temporarily_unavailable");
    t.equal(answers.introspect.body.error, "temporarily_unavailable");
    t.match(answers.admin.body, { statusCode: 503, code: "database_unavailable", error: "Service Unavailable", message: String });
    const withRetryAfter = await fetch(`${live.base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...client, grant_type: "refresh_token", refresh_token: refreshToken }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    t.equal(withRetryAfter?.status, 503);
    t.match(withRetryAfter?.headers.get("retry-after") ?? "", /^\d+$/, "Retry-After in seconds");
    await withRetryAfter?.body?.cancel();
    t.equal(await databaseUp(), 0, "Prometheus sees the database down (appgrant_dependency_up)");

    await proxy!.setMode("pass");
    const back = performance.now();
    const served = await until(async () => (await introspect(accessToken)).status === 200, 5000);
    const ms = performance.now() - back;
    t.ok(served, "served again once the database is back");
    t.ok(ms < 1000, `first success ${ms.toFixed(0)} ms after the database came back (limit 1000 ms)`);
    const res = await token({ grant_type: "refresh_token", refresh_token: refreshToken });
    t.equal(res.status, 200, "token requests too", { got: res.body });
    t.equal(await databaseUp(), 1, "and up again");
    t.equal(live.exited, null, "the process is still running");
  });

  await t.test("each loss is logged once when it starts and once when it ends, without a stack", async (t) => {
    const lines = live.log.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const count = (msg: string) => lines.filter((line) => line.msg === msg).length;
    t.equal(count("database unavailable"), 2, "two outages began (terminated backends, refused connections)");
    t.equal(count("database available again"), 2, "and both ended");
    t.notOk(
      live.log.some((line) => line.includes('"stack"')),
      "no stack trace in the log",
    );
  });

  await stopServer(live);
  t.same(live.exited, { code: 0, signal: null }, "the process exits 0 on SIGTERM: it never crashed");
}
