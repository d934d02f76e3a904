// Issue 8, defect 2 (database): PostgreSQL accepting connections but never answering
// (a paused VM, a stalled route: a FaultProxy in blackhole mode) for 5 s under load.
// Every answer comes within the configured deadlines plus a margin — token refreshes,
// introspection, admin reads and writes (Prisma transactions), /readyz — and is a
// success or a 503 with Retry-After in the endpoint's error shape, never a 500; the
// process serves again once the database answers, and the outage is logged twice.
import t, { type Test } from "tap";
import { FaultProxy } from "../support/fault-proxy.js";
import { freshDatabase } from "../support/helper.js";
import { type Answer, buildFaultApp, delay, loadWorkers, percentile, runLoad, seed, tally, tokenPairs, unavailableShapes } from "./fault-helper.js";

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
const CONNECT_TIMEOUT = 1000;
const QUERY_TIMEOUT = 1000;
const READY_TIMEOUT = 500;
/** The client's read deadline runs this much past statement_timeout (src/storage/postgres.ts). */
const SERVER_CANCEL_GRACE = 250;
/** A loaded 2-core CI machine running two test files at once. */
const MARGIN = 1000;
const BLACKHOLE_MS = 5000;

if (!TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: this fault needs PostgreSQL");
} else {
  t.test("PostgreSQL blackholed for 5 s under load: bounded answers, 503 or success, then recovery", (t) => main(t, TEST_DATABASE_URL));
}

async function main(t: Test, testDatabaseUrl: string): Promise<void> {
  const proxy = await FaultProxy.start(FaultProxy.targetOf(testDatabaseUrl, 5432));
  t.teardown(() => proxy.close());
  const databaseUrl = await freshDatabase(t);
  const { app, logs } = await buildFaultApp(t, proxy.rewrite(databaseUrl), {
    APPGRANT_DB_CONNECT_TIMEOUT: String(CONNECT_TIMEOUT),
    APPGRANT_DB_QUERY_TIMEOUT: String(QUERY_TIMEOUT),
    APPGRANT_READY_TIMEOUT: String(READY_TIMEOUT),
    APPGRANT_PG_POOL_SIZE: "5",
    // The load comes from one address: the rate limits are not under test here.
    APPGRANT_RATE_LIMIT_PER_IP: "0",
    APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
  });
  const { client, codes } = await seed(app, 4);
  const workers = loadWorkers(app, client, await tokenPairs(app, client, codes), ["/readyz"]);

  let blackholeAt = 0;
  let passAt = 0;
  const start = performance.now();
  const script = (async () => {
    await delay(1000);
    await proxy.setMode("blackhole");
    blackholeAt = performance.now() - start;
    await delay(BLACKHOLE_MS);
    await proxy.setMode("pass");
    passAt = performance.now() - start;
    await delay(2500);
  })();
  const answers = await runLoad(workers, script);
  t.comment(`answers: ${JSON.stringify(tally(answers))}`);
  const during = (a: Answer) => a.at >= blackholeAt && a.at + a.ms <= passAt;

  t.test("every answer is a success or a 503 with Retry-After in the endpoint's shape", async (t) => {
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
      'readyz {"status":"database unreachable"}',
    ]);
    for (const kind of new Set(workers.map((w) => w.kind))) {
      t.ok(
        answers.some((a) => a.kind === kind && during(a) && a.status === 503),
        `${kind}: 503 during the blackhole`,
      );
    }
  });

  t.test("every answer comes within the configured deadlines plus a margin", async (t) => {
    for (const kind of new Set(workers.map((w) => w.kind))) {
      // A request waits at most for a connection, then for the one statement the blackhole caught.
      const limit = kind === "/readyz" ? READY_TIMEOUT + MARGIN : CONNECT_TIMEOUT + QUERY_TIMEOUT + SERVER_CANCEL_GRACE + MARGIN;
      const times = answers.filter((a) => a.kind === kind).map((a) => a.ms);
      const slowest = Math.max(...times);
      t.ok(slowest <= limit, `${kind}: slowest ${slowest.toFixed(0)} ms, p50 ${percentile(times, 50).toFixed(0)} ms (limit ${limit} ms)`);
    }
  });

  t.test("served again once the database answers", async (t) => {
    // Requests already waiting when the blackhole ended may still fail; any sent a
    // moment later succeed.
    const after = answers.filter((a) => a.at >= passAt + 500);
    for (const kind of new Set(workers.map((w) => w.kind))) {
      t.ok(
        after.some((a) => a.kind === kind),
        `${kind}: answered after the blackhole`,
      );
    }
    t.same(
      after.filter((a) => a.status >= 300).map((a) => `${a.kind} ${a.status} at ${(a.at - passAt).toFixed(0)} ms`),
      [],
      `all ${after.length} requests sent from 500 ms after the blackhole succeed`,
    );
  });

  t.test("the outage is logged once when it starts and once when it ends, no stack per request", async (t) => {
    const started = logs.filter((line) => line.msg === "database unavailable");
    const ended = logs.filter((line) => line.msg === "database available again");
    t.equal(started.length, 1, "one line when it starts");
    t.equal(ended.length, 1, "one summary when it ends");
    t.ok(Number(ended[0]?.failures) > 0, `the summary counts the failures (${ended[0]?.failures}, ${ended[0]?.downSeconds} s)`);
    // An installation created just before the blackhole may lose its webhook event (its
    // delivery reads the database): that is one line per lost event, not per request.
    t.same(
      logs
        .filter((line) => Number(line.level) >= 50 && line.msg !== "database unavailable")
        .filter((line) => !(line.msg === "webhook delivery could not be prepared" && line.reason === "database unavailable"))
        .map((line) => line.msg),
      [],
      "no other error line",
    );
    t.notOk(
      logs.some((line) => JSON.stringify(line).includes('"stack"')),
      "no stack trace",
    );
  });
}
