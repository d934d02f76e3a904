// Prometheus metrics (issue 12): served on the management listener only, with exact
// counts after a scripted scenario (tokens issued by grant type, refusals by error code,
// a refresh replay, a code reuse, a failed client authentication, introspections, a
// rate-limited request), a refresh token's reuse, each rate limit under its own name,
// webhook attempts by outcome, the dependency gauge (down while SQLite's write lock
// cannot be had) and build info, no credential or client_id in any label, and the
// dashboard's and README's queries (what they reference, what the error ratio counts).
import t from "tap";
import { buildTestApp, install, type TestApp } from "../support/helper.js";
import { basic, exchange, newClient, refresh } from "../support/oauth-helper.js";
import { RATE_LIMITS } from "../../src/shared/metrics.js";
import { generateCredential } from "../../src/crypto/tokens.js";
import { VERSION } from "../../src/shared/version.js";
import { prometheusMetrics } from "../../src/main/metrics.js";
import { createApp } from "../support/helper.js";
import { clientAssertion, registerKey } from "../support/app-keys.js";
import { pauseWebhooks } from "../../src/domain/webhook-pause.js";
import Database from "better-sqlite3";

async function scrape(test: TestApp): Promise<string> {
  const port = test.app.metricsPort;
  if (port === undefined) throw new Error("the management listener is not listening");
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`scrape: ${res.status}`);
  return res.text();
}

/** The value of one series, e.g. value(text, 'appgrant_token_requests_total{grant_type="refresh_token",outcome="success"}'); 0 if absent. */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

t.test("counts a scripted scenario exactly, on the management port only", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0" });
  await test.app.ready();
  t.type(test.app.metricsPort, "number", "the management listener is up");
  t.equal((await test.app.inject({ method: "GET", url: "/metrics" })).statusCode, 404, "never on the public port");
  const before = await scrape(test);
  t.equal(value(before, 'appgrant_build_info{version="' + VERSION + '",commit="unknown"}'), 1, "build info");
  t.equal(value(before, 'appgrant_dependency_up{dependency="database"}'), 1, "the database is up");
  t.match(before, /appgrant_process_cpu_user_seconds_total/, "process metrics");
  t.match(before, /appgrant_nodejs_eventloop_lag_seconds/, "event-loop lag");

  const client = await newClient(test);
  const installed = await install(test, client.client_id, { account: "acme" });
  const tokens = (await exchange(test, client, installed.code)).json() as { access_token: string; refresh_token: string };
  t.equal((await exchange(test, client, installed.code)).statusCode, 400, "the code again: reuse");
  const another = await install(test, client.client_id, { account: "globex" });
  const pair = (await exchange(test, client, another.code)).json() as { access_token: string; refresh_token: string };
  const rotated = await refresh(test, client, pair.refresh_token);
  t.equal(rotated.statusCode, 200);
  t.equal((await refresh(test, client, pair.refresh_token)).statusCode, 200, "a retry within the grace period: a replay");
  t.equal((await refresh(test, client, "agr_not-a-token")).statusCode, 400);
  t.equal((await refresh(test, { ...client, client_secret: "ags_wrong" }, rotated.json().refresh_token)).statusCode, 401);
  const unknownGrant = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: "grant_type=made-up-by-the-caller",
  });
  t.equal(unknownGrant.statusCode, 400);
  const introspect = (token: string) =>
    test.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${test.config.adminToken}` },
      payload: `token=${token}`,
    });
  t.equal((await introspect(rotated.json().access_token)).json().active, true);
  t.equal((await introspect(tokens.access_token)).json().active, false, "revoked by the code's reuse");

  const after = await scrape(test);
  const delta = (series: string) => value(after, series) - value(before, series);
  t.equal(delta('appgrant_token_requests_total{grant_type="authorization_code",outcome="success"}'), 2);
  t.equal(delta('appgrant_token_requests_total{grant_type="authorization_code",outcome="invalid_grant"}'), 1);
  t.equal(delta('appgrant_token_requests_total{grant_type="refresh_token",outcome="success"}'), 2, "the rotation and its replay");
  t.equal(delta('appgrant_token_requests_total{grant_type="refresh_token",outcome="invalid_grant"}'), 1);
  t.equal(delta('appgrant_token_requests_total{grant_type="refresh_token",outcome="invalid_client"}'), 1);
  t.equal(delta('appgrant_token_requests_total{grant_type="unknown",outcome="unsupported_grant_type"}'), 1, "a caller's grant_type is never a label");
  t.equal(delta("appgrant_refresh_replays_total"), 1);
  t.equal(delta('appgrant_reuse_detections_total{kind="code"}'), 1);
  t.equal(delta('appgrant_reuse_detections_total{kind="refresh_token"}'), 0);
  t.equal(delta('appgrant_client_auth_failures_total{method="client_secret_basic"}'), 1);
  t.equal(delta('appgrant_introspections_total{active="true"}'), 1);
  t.equal(delta('appgrant_introspections_total{active="false"}'), 1);
  t.equal(delta('appgrant_http_requests_total{route="/oauth/token",method="POST",status="200"}'), 4);
  t.ok(delta('appgrant_http_request_duration_seconds_count{route="/oauth/token"}') >= 8, "latency observed per request");
  t.ok(delta('appgrant_http_requests_total{route="unmatched",method="GET",status="404"}') >= 0);

  const labels = [...after.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).join("\n");
  for (const secret of [
    client.client_secret!,
    client.client_id,
    installed.code,
    tokens.access_token,
    tokens.refresh_token,
    "made-up-by-the-caller",
  ]) {
    t.notOk(labels.includes(secret), `no label carries ${secret.slice(0, 8)}…`);
  }
});

t.test("rate-limited requests are counted by limit", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0", APPGRANT_RATE_LIMIT_PER_IP: "1" });
  await test.app.ready();
  const send = () =>
    test.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "grant_type=x",
    });
  t.equal((await send()).statusCode, 400);
  t.equal((await send()).statusCode, 429);
  t.equal((await send()).statusCode, 429);
  t.equal(value(await scrape(test), 'appgrant_rate_limited_total{limit="per_ip"}'), 2);
});

t.test("each rate limit is counted under its own limit, and README lists every one", async (t) => {
  const test = await buildTestApp(t, {
    APPGRANT_METRICS_PORT: "0",
    APPGRANT_RATE_LIMIT_AUTH_FAILURES: "1",
    APPGRANT_CREDENTIAL_REVOKE_LIMIT: "1",
    APPGRANT_DEVICE_LOOKUP_FAILURES: "2",
  });
  await test.app.ready();
  const client = await newClient(test);
  const post = (url: string, remoteAddress: string, payload: string, headers: Record<string, string> = {}) =>
    test.app.inject({ method: "POST", url, remoteAddress, headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, payload });
  // Well-formed wrong secrets from three addresses: one verification each for the first two (the
  // client's argon2 budget is twice the failures allowed per address), the third refused.
  const guesses = [];
  for (const address of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
    guesses.push(
      (await post("/oauth/introspect", address, "token=x", { authorization: basic(client.client_id, generateCredential("clientSecret")) }))
        .statusCode,
    );
  }
  t.same(guesses, [401, 401, 429]);
  const revoke = () =>
    test.app.inject({ method: "POST", url: "/oauth/credentials/revoke", remoteAddress: "10.0.1.1", payload: { credentials: ["x"] } });
  t.same([(await revoke()).statusCode, (await revoke()).statusCode], [202, 429]);
  const lookup = () => test.admin("GET", "/admin/v1/device-authorizations/ABCD-EFGH");
  t.same([(await lookup()).statusCode, (await lookup()).statusCode, (await lookup()).statusCode], [404, 404, 429]);

  const text = await scrape(test);
  t.equal(value(text, 'appgrant_rate_limited_total{limit="argon2_budget_per_client"}'), 1, "the client's argon2 budget");
  t.equal(value(text, 'appgrant_rate_limited_total{limit="credential_revocation_per_ip"}'), 1, "the credential revocation limit");
  t.equal(value(text, 'appgrant_rate_limited_total{limit="device_lookup_failures_per_ip"}'), 1, "the device user-code lookup limit");
  t.equal(value(text, 'appgrant_rate_limited_total{limit="per_ip"}'), 0);
  t.notMatch(text, /limit="other"/);

  const { readFileSync } = await import("node:fs");
  const row = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    .split("\n")
    .find((line) => line.startsWith("| `appgrant_rate_limited_total` |"));
  const documented = [...(row?.split("|")[3] ?? "").matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]).filter((name) => name !== "limit");
  t.same(documented.sort(), [...RATE_LIMITS].sort(), "README's metrics table names every limit");
});

t.test("a refresh token reused past the grace period is one refresh_token reuse detection", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0" });
  await test.app.ready();
  const client = await newClient(test);
  const installed = await install(test, client.client_id, { account: "acme" });
  const pair = (await exchange(test, client, installed.code)).json() as { refresh_token: string };
  t.equal((await refresh(test, client, pair.refresh_token)).statusCode, 200);
  const before = await scrape(test);
  test.clock.advance(3600); // past the grace period: the rotated token again is a reuse
  t.equal((await refresh(test, client, pair.refresh_token)).statusCode, 400);
  const after = await scrape(test);
  const delta = (series: string) => value(after, series) - value(before, series);
  t.equal(delta('appgrant_reuse_detections_total{kind="refresh_token"}'), 1, "one detection, its family revoked");
  t.equal(delta('appgrant_reuse_detections_total{kind="code"}'), 0);
  t.equal(delta("appgrant_refresh_replays_total"), 0, "not a replay");
  t.equal(delta('appgrant_token_requests_total{grant_type="refresh_token",outcome="invalid_grant"}'), 1);
});

t.test("webhook attempts by outcome: one delivered, one failed and retried, then given up", async (t) => {
  const { createServer } = await import("node:http");
  /** A receiver on 127.0.0.1 answering `status` to every request. */
  const receiver = async (status: number) => {
    const server = createServer((req, res) => req.resume().on("end", () => res.writeHead(status).end()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  };
  const test = await buildTestApp(
    t,
    { APPGRANT_METRICS_PORT: "0", APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" },
    { webhooks: { pollMs: 20, attempts: 2 } },
  );
  await test.app.ready();
  const good = await createApp(test, { name: "Good receiver", webhook_url: await receiver(204) });
  const bad = await createApp(test, { name: "Failing receiver", webhook_url: await receiver(500) });
  await install(test, good.client_id, { account: "acme" });
  await install(test, bad.client_id, { account: "acme" });
  const attempts = (text: string) => ({
    delivered: value(text, 'appgrant_webhook_attempts_total{outcome="delivered"}'),
    retry: value(text, 'appgrant_webhook_attempts_total{outcome="retry"}'),
    failed: value(text, 'appgrant_webhook_attempts_total{outcome="failed"}'),
  });
  /** Scrapes until `done` holds (the worker sends and records in the background). */
  const scrapeUntil = async (what: string, done: (counts: ReturnType<typeof attempts>) => boolean) => {
    for (const deadline = performance.now() + 15_000; ; ) {
      const counts = attempts(await scrape(test));
      if (done(counts)) return counts;
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  t.same(
    await scrapeUntil("the first attempts", (c) => c.delivered + c.retry >= 2),
    { delivered: 1, retry: 1, failed: 0 },
    "the first attempts: one delivered, one failed and to be retried",
  );
  const failing = await test.app.domain.db.webhookDelivery.findFirstOrThrow({ where: { applicationId: bad.id } });
  test.clock.set(failing.nextAttemptAt);
  t.same(await scrapeUntil("the last attempt", (c) => c.failed >= 1), { delivered: 1, retry: 1, failed: 1 }, "its second and last attempt: failed");
  t.equal((await test.app.domain.db.webhookDelivery.findUniqueOrThrow({ where: { id: failing.id } })).status, "failed");
});

t.test("without APPGRANT_METRICS_PORT nothing listens and nothing is counted", async (t) => {
  const test = await buildTestApp(t);
  await test.app.ready();
  t.equal(test.app.metricsPort, undefined);
  t.equal((await test.app.inject({ method: "GET", url: "/metrics" })).statusCode, 404);
});

t.test("the Grafana dashboard in ops/ parses and queries only metrics the server exports", async (t) => {
  const { readFileSync } = await import("node:fs");
  const dashboard = JSON.parse(readFileSync(new URL("../../ops/grafana-dashboard.json", import.meta.url), "utf8")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0" });
  await test.app.ready();
  // The other database's series too, from the same code the server runs.
  const other = prometheusMetrics({ commit: undefined, perClient: false });
  other.watchDatabase(test.config.database.kind === "postgres" ? "sqlite" : "postgres", () => ({
    pool: { total: 0, idle: 0, waiting: 0 },
    writeLock: { queued: 0, writes: 0, contended: 0, waitSeconds: 0 },
  }));
  const exported = new Set(
    ((await scrape(test)) + (await other.registry.metrics()))
      .split("\n")
      .filter((line) => line.startsWith("# TYPE "))
      .flatMap((line) => {
        const [, , name, type] = line.split(" ");
        return type === "histogram" ? [name!, `${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!];
      }),
  );
  t.ok(dashboard.panels.length >= 6);
  for (const panel of dashboard.panels) {
    for (const target of panel.targets) {
      const names = target.expr.match(/appgrant_[a-z0-9_]+/g) ?? [];
      t.ok(names.length > 0, `${panel.title}: queries appgrant`);
      for (const name of names) t.ok(exported.has(name), `${panel.title}: ${name} is exported`);
    }
  }
});

/**
 * The value of `sum(rate(A)) / sum(rate(B))` (a trailing comparison ignored) over series of
 * appgrant_token_requests_total that differ only by `outcome`, each with the given rate:
 * enough PromQL to check what a ratio counts.
 */
function tokenRatio(expr: string, rates: Record<string, number>): number {
  const selector = String.raw`sum\(rate\((appgrant_token_requests_total(?:\{[^}]*\})?)\[\w+\]\)\)`;
  const match = new RegExp(String.raw`^${selector}\s*/\s*${selector}(?:\s*[<>]=?\s*[\d.]+)?$`).exec(expr.trim());
  if (!match) throw new Error(`not a ratio of token request rates: ${expr}`);
  const sum = (series: string) => {
    const matchers = [...(series.match(/\{([^}]*)\}/)?.[1] ?? "").matchAll(/\s*(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*,?/g)];
    return Object.entries(rates)
      .filter(([outcome]) =>
        matchers.every(([, label, op, value]) => {
          if (label !== "outcome") throw new Error(`a matcher on ${label}: ${expr}`);
          const regex = new RegExp(`^(?:${value})$`);
          return op === "=" ? outcome === value : op === "!=" ? outcome !== value : op === "=~" ? regex.test(outcome) : !regex.test(outcome);
        }),
      )
      .reduce((total, [, rate]) => total + rate, 0);
  };
  return sum(match[1]!) / sum(match[2]!);
}

t.test("the token error ratios (dashboard and README's alert) leave out the device flow's polling answers", async (t) => {
  const { readFileSync } = await import("node:fs");
  const dashboard = JSON.parse(readFileSync(new URL("../../ops/grafana-dashboard.json", import.meta.url), "utf8")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const panel = dashboard.panels.find((p) => p.title === "Token errors ratio");
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8").split("\n");
  const alert = readme.findIndex((line) => line.includes("alert: AppgrantTokenErrors"));
  const alertExpr = readme[alert + 1]?.match(/^\s*expr:\s*(.*)$/)?.[1];
  t.ok(panel && alertExpr, "the panel and the alert are where they were");
  // A fifth of the answerable requests fail, while devices wait for their users: their
  // authorization_pending and slow_down are how RFC 8628 polling works, neither errors
  // nor requests to dilute the errors with.
  const rates = { success: 80, invalid_grant: 15, invalid_client: 4, server_error: 1, authorization_pending: 900, slow_down: 100 };
  for (const [what, expr] of [
    ["the dashboard's panel", panel!.targets[0]!.expr],
    ["README's AppgrantTokenErrors", alertExpr!],
  ] as const) {
    t.equal(tokenRatio(expr, rates), 0.2, `${what}: ${expr}`);
    t.equal(tokenRatio(expr, { success: 10, authorization_pending: 1000, slow_down: 50 }), 0, `${what}: polling alone is no error`);
  }
});

t.test("APPGRANT_METRICS_PER_CLIENT labels token answers with the authenticated client_id only", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0", APPGRANT_METRICS_PER_CLIENT: "true" });
  await test.app.ready();
  const client = await newClient(test);
  const installed = await install(test, client.client_id, { account: "acme" });
  t.equal((await exchange(test, client, installed.code)).statusCode, 200);
  t.equal((await exchange(test, { ...client, client_secret: "ags_wrong" }, installed.code)).statusCode, 401);
  t.equal((await exchange(test, { client_id: "claimed-by-the-caller", client_secret: "ags_x" }, installed.code)).statusCode, 401);
  const text = await scrape(test);
  t.equal(value(text, `appgrant_token_requests_total{grant_type="authorization_code",outcome="success",client_id="${client.client_id}"}`), 1);
  t.equal(
    value(text, 'appgrant_token_requests_total{grant_type="authorization_code",outcome="invalid_client",client_id=""}'),
    2,
    "unauthenticated: no client_id",
  );
  t.notMatch(text, /claimed-by-the-caller/, "a claimed, unauthenticated client_id is never a label");
});

t.test("the GitHub-compatible endpoint is counted with the token endpoint", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0" });
  await test.app.ready();
  const app = await createApp(test, { grant_types: ["authorization_code", "refresh_token", "client_credentials"] });
  const key = await registerKey(test, app.id, "ES256");
  const installed = await install(test, app.client_id, { account: "acme" });
  const now = Math.floor(test.clock().getTime() / 1000);
  const jwt = await clientAssertion(test, key, app.client_id, {
    claims: { sub: undefined, aud: undefined, jti: undefined, iat: now - 60, exp: now + 540 },
  });
  const mint = (authorization: string, installationId = installed.id) =>
    test.app.inject({ method: "POST", url: `/app/installations/${installationId}/access_tokens`, headers: { authorization } });
  t.equal((await mint(`Bearer ${jwt}`)).statusCode, 201);
  t.equal((await mint(`Bearer ${jwt}`, "no-such-installation")).statusCode, 404);
  t.equal((await mint("Bearer not-a-jwt")).statusCode, 401);
  const text = await scrape(test);
  t.equal(value(text, 'appgrant_token_requests_total{grant_type="github_app",outcome="success"}'), 1);
  t.equal(value(text, 'appgrant_token_requests_total{grant_type="github_app",outcome="invalid_grant"}'), 1);
  t.equal(value(text, 'appgrant_token_requests_total{grant_type="github_app",outcome="invalid_client"}'), 1);
  t.equal(value(text, 'appgrant_client_auth_failures_total{method="github_app_jwt"}'), 1);
  t.equal(value(text, 'appgrant_http_requests_total{route="/app/installations/:installation_id/access_tokens",method="POST",status="201"}'), 1);
});

t.test("the webhook backlog, how overdue it is, and paused applications", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0" });
  await test.app.ready();
  const app = await createApp(test, { webhook_url: "https://hooks.example/appgrant" });
  // Paused first: the worker leaves its deliveries alone, so the backlog stays as made.
  await pauseWebhooks(test.app.domain, app.id, { failures: 20, since: test.clock() });
  const empty = await scrape(test);
  t.equal(value(empty, "appgrant_webhook_backlog"), 0);
  t.equal(value(empty, "appgrant_webhooks_paused_applications"), 1);
  await install(test, app.client_id, { account: "acme" });
  await install(test, app.client_id, { account: "globex" });
  test.clock.advance(90);
  const text = await scrape(test);
  t.equal(value(text, "appgrant_webhook_backlog"), 2, "installation.created, twice");
  t.equal(value(text, "appgrant_webhook_overdue_seconds"), 90, "due since they were made, 90 s ago on the clock");
});

if (process.env.TEST_DATABASE_URL) {
  t.test("PostgreSQL: the pool's connections in use, idle and waiting", async (t) => {
    const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0", APPGRANT_PG_POOL_SIZE: "4" });
    await test.app.ready();
    const client = await newClient(test);
    await install(test, client.client_id, { account: "acme" });
    // Two transactions held open: two connections in use while the scrape reads the pool.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    let bothStarted = () => {};
    const holding = new Promise<void>((resolve) => (bothStarted = resolve));
    const held = [1, 2].map(() =>
      test.app.domain.transaction(async (tx) => {
        await tx.application.count();
        if (++started === 2) bothStarted();
        await released;
      }),
    );
    await holding;
    const busy = await scrape(test);
    release();
    await Promise.all(held);
    t.ok(value(busy, "appgrant_db_pool_connections_in_use") >= 2, "the two held transactions");
    t.equal(value(busy, "appgrant_db_pool_waiting"), 0, "nobody waits: the pool has room");
    const idle = await scrape(test);
    t.ok(value(idle, "appgrant_db_pool_connections_in_use") < value(busy, "appgrant_db_pool_connections_in_use"), "returned");
    t.ok(value(idle, "appgrant_db_pool_connections_idle") >= 2, "and idle");
    t.notMatch(idle, /appgrant_sqlite_writes_total \d/, "no SQLite series on PostgreSQL");
  });
} else {
  t.test("SQLite: writes, the write lock's waits and queue, and lock failures by kind", async (t) => {
    const test = await buildTestApp(t, { APPGRANT_METRICS_PORT: "0", APPGRANT_DB_QUERY_TIMEOUT: "1000" });
    await test.app.ready();
    const client = await newClient(test);
    const before = await scrape(test);
    const installed = await install(test, client.client_id, { account: "acme" });
    const exchanged = await exchange(test, client, installed.code);
    t.equal(exchanged.statusCode, 200);
    const after = await scrape(test);
    t.ok(value(after, "appgrant_sqlite_writes_total") - value(before, "appgrant_sqlite_writes_total") >= 2, "the installation and the exchange");
    t.equal(value(after, "appgrant_sqlite_write_queue"), 0);
    t.equal(value(after, "appgrant_sqlite_write_lock_contended_total"), 0);
    t.ok(value(after, "appgrant_sqlite_lookups_total") - value(before, "appgrant_sqlite_lookups_total") >= 2, "the exchange's client and code");
    // Two introspections at once: their lookups share one read transaction.
    const grouped = await scrape(test);
    const introspect = () =>
      test.app.inject({
        method: "POST",
        url: "/oauth/introspect",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${test.config.adminToken}` },
        payload: `token=${exchanged.json().access_token}`,
      });
    const answers = await Promise.all([introspect(), introspect()]);
    t.strictSame(
      answers.map((answer) => answer.json().active),
      [true, true],
    );
    const shared = await scrape(test);
    t.ok(value(shared, "appgrant_sqlite_read_transactions_total") > value(grouped, "appgrant_sqlite_read_transactions_total"), "a read transaction");
    // The background checkpointer copies what the WAL gained (every 50 ms); no pause for so little.
    let checkpointed = after;
    for (const deadline = performance.now() + 10_000; value(checkpointed, "appgrant_sqlite_checkpoints_total") === 0; ) {
      if (performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
      checkpointed = await scrape(test);
    }
    t.ok(value(checkpointed, "appgrant_sqlite_checkpoints_total") >= 1, "the worker's checkpoint of those writes");
    t.match(checkpointed, /^appgrant_sqlite_checkpoint_pauses_total 0$/m, "no pause for so little");

    // Another process holds the write lock: a write waits for it; past the deadline, one fails.
    const path = test.config.database.kind === "sqlite" ? test.config.database.path : "";
    const other = new Database(path);
    t.teardown(() => other.close());
    other.exec("BEGIN IMMEDIATE");
    const refused = await test.app.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers: { authorization: `Bearer ${test.config.adminToken}` },
      payload: { name: "Locked out", redirect_uris: ["https://app.example/cb"], scopes: ["read"] },
    });
    t.equal(refused.statusCode, 503);
    const down = await scrape(test);
    t.equal(value(down, 'appgrant_dependency_up{dependency="database"}'), 0, "the database is down while its write lock cannot be had");
    const waiting = test.app.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers: { authorization: `Bearer ${test.config.adminToken}` },
      payload: { name: "Waits", redirect_uris: ["https://app.example/cb"], scopes: ["read"] },
    });
    // Queued, and so already refused the lock once (the first attempt is immediate).
    while (value(await scrape(test), "appgrant_sqlite_write_queue") === 0);
    other.exec("COMMIT");
    t.equal((await waiting).statusCode, 201);
    const locked = await scrape(test);
    t.equal(value(locked, "appgrant_sqlite_write_lock_contended_total"), 1, "the write that waited, then got it");
    t.ok(value(locked, "appgrant_sqlite_write_lock_wait_seconds_total") > value(after, "appgrant_sqlite_write_lock_wait_seconds_total"));
    t.equal(value(locked, 'appgrant_dependency_errors_total{dependency="database",kind="lock"}'), 1);
    t.equal(value(locked, 'appgrant_dependency_up{dependency="database"}'), 1, "and up again once a write got it");
  });
}
