// Redis blackholed (connections accepted, nothing answered) or refused for a few
// seconds under load: the rate limits fail open fast (no request waits longer than
// the Redis timeout plus a margin, and once the breaker is open most do not wait at
// all), nothing answers 500, the outage is logged twice, and afterwards the limits
// are counted in Redis again.
import t, { type Test } from "tap";
import { buildApp } from "../../src/main/app.js";
import { loadConfig } from "../../src/main/config.js";
import type { FaultMode } from "../support/fault-proxy.js";
import { ADMIN_TOKEN, buildTestApp, freshDatabase, type TestApp } from "../support/helper.js";
import { basic, newInstallation, refresh, setup, exchange } from "../support/oauth-helper.js";
import { errorLines, logLines, REDIS_URL, redisProxy, redisUp, uniquePrefix, waitFor } from "./redis-helper.js";

const TIMEOUT_MS = 500;
/** What a loaded 2-core CI machine may add to an answer on top of the Redis timeout. */
const MARGIN_MS = 1500;
const OUTAGE_MS = 5000;
const WORKERS = 8;

interface Sample {
  phase: "before" | "outage" | "after";
  ms: number;
  status: number;
}

async function outageUnderLoad(t: Test, mode: FaultMode) {
  const { proxy, url } = await redisProxy(t);
  const env = {
    REDIS_URL: url,
    APPGRANT_REDIS_PREFIX: uniquePrefix(),
    APPGRANT_REDIS_TIMEOUT: String(TIMEOUT_MS),
    // Load must not hit the request limits; failed authentications are checked after recovery.
    APPGRANT_RATE_LIMIT_PER_IP: "1000000",
    APPGRANT_RATE_LIMIT_PER_CLIENT: "1000000",
    APPGRANT_RATE_LIMIT_AUTH_FAILURES: "3",
    APPGRANT_METRICS_PORT: "0",
  };
  const test = await buildTestApp(t, env);
  const { client, tokens } = await setup(test);
  const chains: string[] = [];
  for (let i = 0; i < WORKERS / 2; i++) {
    const installation = await newInstallation(test, client);
    const res = await exchange(test, client, installation.code);
    chains.push(res.json().refresh_token);
  }

  const samples: Sample[] = [];
  let phase: Sample["phase"] = "before";
  let running = true;
  const timed = async <R extends { statusCode: number }>(send: () => Promise<R>): Promise<R> => {
    const started = { phase, at: performance.now() };
    const res = await send();
    samples.push({ phase: started.phase, ms: performance.now() - started.at, status: res.statusCode });
    return res;
  };
  const refresher = async (i: number) => {
    while (running) {
      const res = await timed(() => refresh(test, client, chains[i]!));
      if (res.statusCode === 200) chains[i] = res.json().refresh_token;
    }
  };
  const introspector = async (i: number) => {
    while (running) {
      await timed(() =>
        test.app.inject({
          method: "POST",
          url: "/oauth/introspect",
          remoteAddress: `10.1.0.${i + 1}`,
          headers: { authorization: basic(client.client_id, client.client_secret!) },
          payload: { token: tokens.access_token },
        }),
      );
    }
  };
  const load = Promise.all([...chains.map((_, i) => refresher(i)), ...chains.map((_, i) => introspector(i))]);

  await new Promise((resolve) => setTimeout(resolve, 500));
  phase = "outage";
  await proxy.setMode(mode);
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  const duringOutage = await scrape(test);
  await proxy.setMode("pass");
  phase = "after";
  const recovered = await waitFor(() => redisUp(test.app), 5000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  running = false;
  await load;
  return { test, env, samples, recovered, duringOutage };
}

async function scrape(test: TestApp): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${test.app.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

/** The value of one series of a scrape (0 if absent). */
function value(text: string, series: string): number {
  return Number(
    text
      .split("\n")
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1) ?? 0,
  );
}

function checkSamples(t: Test, samples: Sample[]) {
  const outage = samples.filter((sample) => sample.phase === "outage");
  const statuses = [...new Set(samples.map((sample) => sample.status))];
  t.same(statuses, [200], "every request succeeded: no 500, no 429");
  const slowest = Math.max(...samples.map((sample) => sample.ms));
  t.ok(slowest < TIMEOUT_MS + MARGIN_MS, `every answer within the Redis timeout plus a margin (slowest ${Math.round(slowest)} ms)`);
  t.ok(outage.length >= 50, `requests kept flowing during the outage (${outage.length} in ${OUTAGE_MS} ms)`);
  const waited = outage.filter((sample) => sample.ms >= TIMEOUT_MS).length;
  t.ok(waited <= WORKERS * 2, `once the breaker is open requests do not wait for Redis (${waited} of ${outage.length} waited)`);
}

function checkLogs(t: Test, test: TestApp) {
  t.equal(logLines(test.logs, "redis unavailable").length, 1, "the outage is logged once when it starts");
  const ended = logLines(test.logs, "redis available again");
  t.equal(ended.length, 1, "and once when it ends");
  t.ok(Number(ended[0]?.failures) >= 1, "with its count of failures");
  t.same(
    errorLines(test.logs).map((line) => line.msg),
    ["redis unavailable"],
    "no other error line (no error per request, no stack per reconnection)",
  );
}

/** After recovery, failed authentications counted by `test` are seen by another process on the same Redis. */
async function checkCountingInRedis(t: Test, test: TestApp, env: Record<string, string>) {
  const other = await buildTestApp(t, { ...env, REDIS_URL });
  const attempt = (app: TestApp) =>
    app.app.inject({
      method: "POST",
      url: "/oauth/token",
      remoteAddress: "10.250.0.1",
      payload: { grant_type: "refresh_token", refresh_token: "x", client_id: "nobody" },
    });
  const codes = [];
  for (const app of [test, test, test, other]) codes.push((await attempt(app)).statusCode);
  t.same(codes, [401, 401, 401, 429], "failures counted by one process refuse the caller in another: counted in Redis again");
}

for (const mode of ["blackhole", "refuse"] as const) {
  t.test(`Redis ${mode === "blackhole" ? "blackholed" : "refusing connections"} under load: the limits fail open fast`, async (t) => {
    const { test, env, samples, recovered, duringOutage } = await outageUnderLoad(t, mode);
    checkSamples(t, samples);
    t.ok(recovered, "Redis is seen as available again after the outage");
    checkLogs(t, test);
    await checkMetrics(t, test, mode, duringOutage);
    await checkCountingInRedis(t, test, env);
  });
}

/** Prometheus alone tells the outage: the dependency down during it, Redis failures by kind, and up again. */
async function checkMetrics(t: Test, test: TestApp, mode: FaultMode, duringOutage: string) {
  t.equal(value(duringOutage, 'appgrant_dependency_up{dependency="redis"}'), 0, "Redis down during the outage");
  t.equal(value(duringOutage, 'appgrant_dependency_up{dependency="database"}'), 1, "the database up all along");
  const text = await scrape(test);
  const kind = mode === "blackhole" ? "timeout" : "connection";
  t.ok(value(text, `appgrant_dependency_errors_total{dependency="redis",kind="${kind}"}`) >= 1, `Redis failures counted as ${kind}`);
  t.ok(value(text, 'appgrant_dependency_errors_total{dependency="redis",kind="circuit_open"}') >= 50, "and the requests that did not ask it");
  t.equal(value(text, 'appgrant_dependency_up{dependency="redis"}'), 1, "up again");
}

for (const mode of ["blackhole", "refuse"] as const) {
  t.test(`an unreachable Redis (${mode}) at start refuses to start, within a deadline`, async (t) => {
    const { proxy, url } = await redisProxy(t);
    await proxy.setMode(mode);
    const config = loadConfig({
      APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
      APPGRANT_SECRET_KEY: "k".repeat(32),
      DATABASE_URL: await freshDatabase(t),
      LOG_LEVEL: "silent",
      REDIS_URL: url,
      APPGRANT_REDIS_TIMEOUT: String(TIMEOUT_MS),
    });
    const started = performance.now();
    const outcome = await Promise.race([
      buildApp({ config }).then(
        async (app) => {
          await app.close();
          return "started";
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve("still waiting"), 5000).unref()),
    ]);
    const ms = performance.now() - started;
    t.match(outcome, /^REDIS_URL: cannot connect to Redis/, "refused to start, naming REDIS_URL");
    t.ok(ms < 4 * TIMEOUT_MS + MARGIN_MS, `gave up within the deadline (${Math.round(ms)} ms)`);
  });
}
