// Prometheus metrics (issue 12): served on the management listener only, with exact
// counts after a scripted scenario (tokens issued by grant type, refusals by error code,
// a refresh replay, a code reuse, a failed client authentication, introspections, a
// rate-limited request), the dependency gauge and build info, and no credential or
// client_id in any label.
import t from "tap";
import { buildTestApp, install, type TestApp } from "../support/helper.js";
import { exchange, newClient, refresh } from "../support/oauth-helper.js";
import { VERSION } from "../../src/shared/version.js";

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
  const exported = new Set(
    (await scrape(test))
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
