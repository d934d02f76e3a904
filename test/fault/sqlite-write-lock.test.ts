// Issue 8, defect 3: another process holds SQLite's write lock for 5 s (here a
// separate better-sqlite3 connection in `BEGIN IMMEDIATE`, which is all another
// process would be to SQLite) while the app is under load. The event loop keeps
// serving: /healthz p99 under 100 ms throughout, reads (introspection, admin lists)
// succeed, and a write that cannot get the lock within its deadline gets 503 +
// Retry-After in the endpoint's shape. It used to wait in better-sqlite3's busy
// timeout, synchronously, for 2 s (token store) or 5 s (Prisma) per queued write.
import Database from "better-sqlite3";
import t, { type Test } from "tap";
import { freshDatabase } from "../support/helper.js";
import { type Answer, buildFaultApp, delay, loadWorkers, percentile, runLoad, seed, tally, tokenPairs, unavailableShapes } from "./fault-helper.js";

const QUERY_TIMEOUT = 1000;
/** A loaded 2-core CI machine running two test files at once. */
const MARGIN = 1000;
const LOCK_MS = 5000;

if (process.env.TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is set: this fault is SQLite's (it runs in the SQLite suite)");
} else {
  t.test("SQLite write lock held by another connection for 5 s under load", main);
}

async function main(t: Test): Promise<void> {
  const databaseUrl = await freshDatabase(t);
  const { app, logs } = await buildFaultApp(t, databaseUrl, {
    APPGRANT_DB_QUERY_TIMEOUT: String(QUERY_TIMEOUT),
    APPGRANT_RATE_LIMIT_PER_IP: "0",
    APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
  });
  const { client, codes } = await seed(app, 2);
  const workers = loadWorkers(app, client, await tokenPairs(app, client, codes), ["/readyz"]);
  // Health checks one after another, 5 ms apart: enough of them that the p99 is not
  // just the few that a descheduled process (a loaded CI machine) holds up.
  workers.push({
    kind: "/healthz",
    request: async () => {
      const res = await app.inject({ method: "GET", url: "/healthz" });
      await delay(5);
      return { status: res.statusCode, retryAfter: undefined, body: res.body };
    },
  });
  const holder = new Database(databaseUrl.slice("file:".length));
  t.teardown(() => holder.close());

  let lockedAt = 0;
  let releasedAt = 0;
  const start = performance.now();
  const script = (async () => {
    await delay(1000);
    holder.prepare("BEGIN IMMEDIATE").run();
    lockedAt = performance.now() - start;
    await delay(LOCK_MS);
    holder.prepare("COMMIT").run();
    releasedAt = performance.now() - start;
    await delay(2000);
  })();
  const answers = await runLoad(workers, script);
  t.comment(`answers: ${JSON.stringify(tally(answers))}`);

  const during = (a: Answer) => a.at >= lockedAt && a.at + a.ms <= releasedAt;
  const kinds = [...new Set(workers.map((w) => w.kind))];

  t.test("the event loop keeps serving: /healthz p99 under 100 ms (more on a loaded machine), reads succeed", async (t) => {
    // From the lock on (the second before it warms the app up) until the end of the run.
    const health = answers.filter((a) => a.kind === "/healthz" && a.at >= lockedAt);
    t.ok(health.filter(during).length >= 20, `${health.filter(during).length} health checks while the lock was held`);
    const p99 = percentile(
      health.map((a) => a.ms),
      99,
    );
    // 100 ms on an idle machine. A loaded CI machine (two test files, other processes)
    // slows every answer, so the bound grows with the p99 of the warm-up second before
    // the lock, measured in this run under the same load, but never past half the
    // write deadline: the defect blocked the event loop for the whole deadline per write.
    const before = answers.filter((a) => a.kind === "/healthz" && a.at + a.ms < lockedAt && a.at > 200);
    const baseline = percentile(
      before.map((a) => a.ms),
      99,
    );
    const limit = Math.min(QUERY_TIMEOUT / 2, Math.max(100, 3 * baseline));
    t.ok(
      p99 < limit,
      `/healthz p99 ${p99.toFixed(1)} ms (limit ${limit.toFixed(0)} ms; ${baseline.toFixed(1)} ms before the lock), max ${Math.max(...health.map((a) => a.ms)).toFixed(0)} ms (${health.length} checks)`,
    );
    for (const kind of ["introspect", "admin read", "/readyz", "/healthz"]) {
      const locked = answers.filter((a) => a.kind === kind && during(a));
      t.ok(locked.length > 0 && locked.every((a) => a.status === 200), `${kind}: all ${locked.length} answered 200 while the lock was held`);
    }
  });

  t.test("a write that cannot get the lock in time answers 503 + Retry-After, within its deadline", async (t) => {
    const unexpected = answers.filter((a) => ![200, 201, 503].includes(a.status));
    t.same(unexpected.slice(0, 5), [], `no other status among ${answers.length} answers`);
    const unavailable = answers.filter((a) => a.status === 503);
    t.ok(
      unavailable.every((a) => /^\d+$/.test(a.retryAfter ?? "")),
      `all ${unavailable.length} 503s carry Retry-After`,
    );
    t.same(unavailableShapes(answers), [
      "admin 503 database_unavailable Service Unavailable",
      "oauth temporarily_unavailable error,error_description",
    ]);
    for (const kind of ["token", "admin write"]) {
      t.ok(
        answers.some((a) => a.kind === kind && during(a) && a.status === 503),
        `${kind}: 503 while the lock was held`,
      );
    }
    for (const kind of kinds) {
      const slowest = Math.max(...answers.filter((a) => a.kind === kind).map((a) => a.ms));
      t.ok(slowest <= QUERY_TIMEOUT + MARGIN, `${kind}: slowest ${slowest.toFixed(0)} ms (limit ${QUERY_TIMEOUT + MARGIN} ms)`);
    }
  });

  t.test("writes succeed again once the lock is released", async (t) => {
    const after = answers.filter((a) => a.at >= releasedAt + 100);
    for (const kind of kinds)
      t.ok(
        after.some((a) => a.kind === kind),
        `${kind}: answered after the release`,
      );
    t.same(
      after.filter((a) => a.status >= 300).map((a) => `${a.kind} ${a.status} at ${(a.at - releasedAt).toFixed(0)} ms`),
      [],
      `all ${after.length} requests sent from 100 ms after the release succeed`,
    );
  });

  t.test("the outage is logged once when it starts and once when it ends, no stack per request", async (t) => {
    const started = logs.filter((line) => line.msg === "database unavailable");
    const ended = logs.filter((line) => line.msg === "database available again");
    t.equal(started.length, 1, "one line when it starts");
    t.equal(ended.length, 1, "one summary when it ends");
    t.ok(Number(ended[0]?.failures) > 0, `the summary counts the failures (${ended[0]?.failures}, ${ended[0]?.downSeconds} s)`);
    t.same(
      logs.filter((line) => Number(line.level) >= 50 && line.msg !== "database unavailable").map((line) => line.msg),
      [],
      "no other error line",
    );
    t.notOk(
      logs.some((line) => JSON.stringify(line).includes('"stack"')),
      "no stack trace",
    );
  });
}
