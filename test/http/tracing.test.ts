// OpenTelemetry tracing (issue 12), through the server's own composition (buildApp with
// OTEL_EXPORTER_OTLP_ENDPOINT set) and an in-memory exporter in place of the collector:
// a scripted scenario (a webhook attempt, a code exchange, a refresh, an introspection,
// a device authorization looked up and accepted by its user code, then polled) gives
// the expected span tree (server spans, their statements as children, the attempt
// as a root), with the conventions' attributes and no credential of the scenario in any
// span; an incoming traceparent is continued; a 5xx marks its span failed.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { basic, exchange, refresh, tokenRequest } from "../support/oauth-helper.js";
import { sha256 } from "../../src/crypto/tokens.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";

const POSTGRES = process.env.TEST_DATABASE_URL !== undefined;
const DB_SYSTEM = POSTGRES ? "postgresql" : "sqlite";

async function tracedApp(t: Test, env: Record<string, string> = {}): Promise<{ test: TestApp; spans: () => ReadableSpan[] }> {
  const exporter = new InMemorySpanExporter();
  const test = await buildTestApp(
    t,
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      OTEL_SERVICE_NAME: "appgrant-test",
      APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true",
      APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device",
      ...env,
    },
    { traceExporter: exporter, webhooks: { pollMs: 20 } },
  );
  return { test, spans: () => exporter.getFinishedSpans() };
}

/** A receiver on 127.0.0.1 that answers 200 and keeps what it got. */
async function receiver(t: Test): Promise<{ url: string; got: { path: string; headers: IncomingHttpHeaders; body: string }[] }> {
  const got: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-path-token?key=query-secret`, got };
}

async function until<T>(what: string, check: () => T | undefined | false): Promise<T> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) =>
  spans
    .filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId)
    .sort((a, b) => a.startTime[1] - b.startTime[1] + (a.startTime[0] - b.startTime[0]) * 1e9);

/** The server span of the request that answered with this X-Request-Id. */
function serverSpan(spans: ReadableSpan[], requestId: string | string[] | number | undefined): ReadableSpan {
  const found = spans.find((span) => span.kind === SpanKind.SERVER && span.attributes["appgrant.request_id"] === requestId);
  if (!found) throw new Error(`no server span for request ${String(requestId)}`);
  return found;
}

t.test("a scripted scenario gives the expected span tree, and no span carries a credential", async (t) => {
  const { test, spans } = await tracedApp(t);
  const hook = await receiver(t);
  const app = (await createApp(test, { webhook_url: hook.url })) as unknown as { client_id: string; client_secret: string; webhook_secret: string };
  const installed = await install(test, app.client_id, { account: "acme-account-name" });
  await until("the webhook attempt", () => hook.got.length >= 1);
  const client = { client_id: app.client_id, client_secret: app.client_secret };

  const exchanged = await exchange(test, client, installed.code);
  t.equal(exchanged.statusCode, 200);
  const pair = exchanged.json() as { access_token: string; refresh_token: string };
  const refreshed = await refresh(test, client, pair.refresh_token);
  t.equal(refreshed.statusCode, 200);
  const rotated = refreshed.json() as { access_token: string; refresh_token: string };
  const introspected = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect?token_type_hint=access_token",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${ADMIN_TOKEN}`, "user-agent": "resource-server/1.0" },
    payload: `token=${rotated.access_token}`,
  });
  t.equal(introspected.json().active, true);

  // The device flow: the user code is a credential while it lives, in the path of the
  // verification page's calls (as the person typed it, and as shown).
  const cli = await createApp(test, { name: "CLI", client_type: "public", grant_types: [DEVICE_CODE_GRANT, "refresh_token"] });
  const started = await test.app.inject({
    method: "POST",
    url: "/oauth/device_authorization",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: `client_id=${cli.client_id}`,
  });
  t.equal(started.statusCode, 200, started.body);
  const device = started.json() as { device_code: string; user_code: string };
  const typed = device.user_code.replace("-", "").toLowerCase();
  const shown = await test.admin("GET", `/admin/v1/device-authorizations/${typed}`);
  t.equal(shown.statusCode, 200, shown.body);
  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${device.user_code}/accept`, { account: "acme-account-name" });
  t.equal(accepted.statusCode, 200, accepted.body);
  const polled = await tokenRequest(
    test,
    { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code },
    { client: { client_id: cli.client_id, client_secret: null } },
  );
  t.equal(polled.statusCode, 200, polled.body);
  const devicePair = polled.json() as { access_token: string; refresh_token: string };
  await until("the attempt's span", () => spans().some((span) => span.name === "POST" && span.kind === SpanKind.CLIENT));
  const all = spans(); // before closing: the exporter's shutdown forgets them

  // -- the code exchange: a server span, its statements as children
  const exchange_ = serverSpan(all, exchanged.headers["x-request-id"]);
  t.equal(exchange_.name, "POST /oauth/token");
  t.equal(exchange_.parentSpanContext, undefined, "a root: the request carried no traceparent");
  t.match(exchange_.attributes, {
    "http.request.method": "POST",
    "http.route": "/oauth/token",
    "http.response.status_code": 200,
    "url.path": "/oauth/token",
    "url.scheme": "http",
    "server.address": "localhost",
    "client.address": "127.0.0.1",
    "appgrant.oauth.grant_type": "authorization_code",
    "appgrant.oauth.client_id": app.client_id,
  });
  t.equal(exchange_.status.code, SpanStatusCode.UNSET);
  t.equal(exchange_.resource.attributes["service.name"], "appgrant-test", "OTEL_SERVICE_NAME");
  const exchangeStatements = childrenOf(all, exchange_);
  t.strictSame(
    exchangeStatements.map((span) => span.name),
    POSTGRES ? ["SELECT Application", "SELECT Grant", "INSERT Token"] : ["SELECT Application", "SELECT Grant", "UPDATE Grant", "INSERT Token"],
    "the client, the code, then its consumption and the new pair (PostgreSQL: one statement)",
  );
  for (const statement of exchangeStatements) {
    t.equal(statement.kind, SpanKind.CLIENT);
    t.equal(statement.spanContext().traceId, exchange_.spanContext().traceId, "in the request's trace");
    t.equal(statement.attributes["db.system.name"], DB_SYSTEM);
    t.equal(statement.attributes["db.query.summary"], statement.name);
    t.match(statement.attributes["db.namespace"], POSTGRES ? /^test\|test_[0-9a-f]+$/ : /^test\.db$/);
    t.match(statement.attributes["db.query.text"], /^(SELECT|UPDATE|INSERT|WITH) /);
    t.notMatch(statement.attributes["db.query.text"], /'/, "no literal in the recorded statement");
  }
  t.match(exchangeStatements[1]!.attributes, { "db.operation.name": "SELECT", "db.collection.name": "Grant" });

  // -- the refresh
  const refresh_ = serverSpan(all, refreshed.headers["x-request-id"]);
  t.equal(refresh_.name, "POST /oauth/token");
  t.match(refresh_.attributes, { "appgrant.oauth.grant_type": "refresh_token", "http.response.status_code": 200 });
  const refreshStatements = childrenOf(all, refresh_).map((span) => span.name);
  if (POSTGRES) t.strictSame(refreshStatements, ["SELECT Application", "SELECT Token", "INSERT Token"]);
  else {
    // SQLite remembers the client while no other connection has committed (PRAGMA
    // data_version): the outbox worker's commits decide whether it is read again.
    t.ok(refreshStatements.lastIndexOf("SELECT Application") <= 0, "the client, if read at all, first and once");
    t.strictSame(
      refreshStatements.filter((name) => name !== "SELECT Application"),
      ["SELECT Token", "UPDATE Token", "INSERT Token"],
    );
  }

  // -- the introspection: the route, without the query
  const introspect = serverSpan(all, introspected.headers["x-request-id"]);
  t.equal(introspect.name, "POST /oauth/introspect");
  t.match(introspect.attributes, { "url.path": "/oauth/introspect", "user_agent.original": "resource-server/1.0", "http.response.status_code": 200 });
  t.strictSame(
    childrenOf(all, introspect).map((span) => span.name),
    ["SELECT Token"],
  );

  // -- the verification page's requests: the route template, and the user code redacted from the path
  const lookup = serverSpan(all, shown.headers["x-request-id"]);
  t.equal(lookup.name, "GET /admin/v1/device-authorizations/:user_code");
  t.equal(lookup.attributes["url.path"], "/admin/v1/device-authorizations/[Redacted]");
  t.equal(serverSpan(all, accepted.headers["x-request-id"]).attributes["url.path"], "/admin/v1/device-authorizations/[Redacted]/accept");

  // -- the webhook attempt: a client span of its own trace, the URL cut to its origin
  const attempts = all.filter((span) => span.kind === SpanKind.CLIENT && span.name === "POST");
  t.equal(attempts.length, 1, "one attempt");
  const attempt = attempts[0]!;
  t.equal(attempt.parentSpanContext, undefined, "the worker's attempt starts its own trace");
  const origin = new URL(hook.url);
  t.match(attempt.attributes, {
    "http.request.method": "POST",
    "http.response.status_code": 200,
    "url.full": `http://${origin.host}/`,
    "server.address": "127.0.0.1",
    "server.port": Number(origin.port),
    "appgrant.webhook.event_type": "installation.created",
  });
  t.equal(attempt.status.code, SpanStatusCode.UNSET);

  // -- the admin API's requests are traced too (their Prisma statements are not the token path)
  t.ok(
    all.some((span) => span.name === "POST /admin/v1/installations" && span.attributes["http.response.status_code"] === 201),
    "the installation's request",
  );

  // -- nothing secret anywhere: the credentials, their hashes (the statements' parameters), the webhook's signature, path, query and body
  const [delivery] = hook.got;
  const secrets = [
    app.client_secret,
    app.webhook_secret,
    installed.code,
    pair.access_token,
    pair.refresh_token,
    rotated.access_token,
    rotated.refresh_token,
    ADMIN_TOKEN,
    basic(app.client_id, app.client_secret).slice("Basic ".length),
    "acme-account-name",
    "secret-path-token",
    "query-secret",
    String(delivery!.headers["webhook-signature"]),
    delivery!.body,
    device.device_code,
    device.user_code,
    device.user_code.replace("-", ""),
    typed,
    devicePair.access_token,
    devicePair.refresh_token,
    ...[installed.code, pair.access_token, pair.refresh_token, rotated.access_token, rotated.refresh_token].map(sha256),
    ...[device.device_code, devicePair.access_token, devicePair.refresh_token].map(sha256),
  ];
  const texts = all.flatMap((span) => [span.name, ...Object.values(span.attributes).map(String), ...span.events.map((event) => event.name)]);
  for (const secret of secrets) {
    t.notOk(
      texts.some((text) => text.includes(secret)),
      `no span carries ${secret.slice(0, 12)}…`,
    );
  }
});

t.test("refreshes committed together: each request's statements are its own spans", async (t) => {
  const { test, spans } = await tracedApp(t);
  const app = (await createApp(test)) as unknown as { client_id: string; client_secret: string };
  const client = { client_id: app.client_id, client_secret: app.client_secret };
  const pairs: { refresh_token: string }[] = [];
  for (const account of ["a", "b", "c", "d"]) {
    const installed = await install(test, app.client_id, { account });
    const exchanged = await exchange(test, client, installed.code);
    t.equal(exchanged.statusCode, 200);
    pairs.push(exchanged.json());
  }
  // Issued at once: on SQLite their writes share one transaction (group commit), which
  // runs in the first writer's async context unless each write brings its own.
  const refreshed = await Promise.all(pairs.map((pair) => refresh(test, client, pair.refresh_token)));
  t.strictSame(
    refreshed.map((res) => res.statusCode),
    [200, 200, 200, 200],
  );
  const all = spans();
  for (const res of refreshed) {
    const writes = childrenOf(all, serverSpan(all, res.headers["x-request-id"]))
      .map((span) => span.name)
      .filter((name) => name !== "SELECT Application");
    t.strictSame(writes, POSTGRES ? ["SELECT Token", "INSERT Token"] : ["SELECT Token", "UPDATE Token", "INSERT Token"], "its own rotation, once");
  }
});

t.test("an incoming W3C traceparent is continued: the request and its statements join the caller's trace", async (t) => {
  const { test, spans } = await tracedApp(t);
  const app = await createApp(test);
  const installed = await install(test, app.client_id);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const parentId = "00f067aa0ba902b7";
  const res = await exchange(
    test,
    { client_id: app.client_id, client_secret: app.client_secret },
    installed.code,
    {},
    {
      headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: "vendor=value" },
    },
  );
  t.equal(res.statusCode, 200);
  const all = spans();
  const span = serverSpan(all, res.headers["x-request-id"]);
  t.equal(span.spanContext().traceId, traceId, "the caller's trace");
  t.equal(span.parentSpanContext?.spanId, parentId, "the caller's span is the parent");
  t.equal(span.parentSpanContext?.isRemote, true);
  const statements = childrenOf(all, span);
  t.ok(statements.length >= 3);
  for (const statement of statements) t.equal(statement.spanContext().traceId, traceId);

  const garbled = await test.app.inject({ method: "GET", url: "/healthz", headers: { traceparent: "00-not-a-trace-parent-01" } });
  const fresh = serverSpan(spans(), garbled.headers["x-request-id"]);
  t.equal(fresh.parentSpanContext, undefined, "an invalid traceparent is ignored: a new trace");
  t.not(fresh.spanContext().traceId, traceId);
  t.equal(fresh.name, "GET /healthz");
});

t.test("a 5xx marks the request's span failed; a 4xx does not; an unknown path has no route", async (t) => {
  const { test, spans } = await tracedApp(t);
  test.app.get("/boom", async () => {
    throw new Error("an internal failure with details");
  });
  const boom = await test.app.inject({ method: "GET", url: "/boom?x=1" });
  t.equal(boom.statusCode, 500);
  const failed = serverSpan(spans(), boom.headers["x-request-id"]);
  t.equal(failed.status.code, SpanStatusCode.ERROR);
  t.equal(failed.attributes["error.type"], "500");
  t.equal(failed.attributes["url.path"], "/boom");
  t.notOk(
    Object.values(failed.attributes).some((value) => String(value).includes("details")),
    "no error message in the span",
  );

  const refused = await tokenRequest(test, { grant_type: "refresh_token", refresh_token: "agr_nothing-such" });
  t.equal(refused.statusCode, 401);
  const refusal = serverSpan(spans(), refused.headers["x-request-id"]);
  t.equal(refusal.status.code, SpanStatusCode.UNSET, "a refusal is the client's error, not the server's");
  t.match(refusal.attributes, { "appgrant.oauth.error": "invalid_client", "appgrant.oauth.grant_type": "refresh_token" });
  t.equal(refusal.attributes["appgrant.oauth.client_id"], undefined, "no client_id before the client is authenticated");

  const missing = await test.app.inject({ method: "GET", url: "/no/such/path" });
  const unrouted = serverSpan(spans(), missing.headers["x-request-id"]);
  t.equal(unrouted.name, "GET", "no route: the method alone");
  t.equal(unrouted.attributes["http.route"], undefined);
});

t.test("a reused refresh token: the family's revocation and its event are statements of the request", async (t) => {
  const { test, spans } = await tracedApp(t);
  const app = await createApp(test);
  const installed = await install(test, app.client_id);
  const client = { client_id: app.client_id, client_secret: app.client_secret };
  const pair = (await exchange(test, client, installed.code)).json() as { refresh_token: string };
  t.equal((await refresh(test, client, pair.refresh_token)).statusCode, 200);
  test.clock.advance(3600); // past the grace period: a reuse
  const reused = await refresh(test, client, pair.refresh_token);
  t.equal(reused.statusCode, 400);
  const all = spans();
  const span = serverSpan(all, reused.headers["x-request-id"]);
  t.match(span.attributes, { "appgrant.oauth.error": "invalid_grant", "http.response.status_code": 400 });
  const names = childrenOf(all, span).map((child) => child.name);
  t.ok(names.includes("UPDATE Token"), `the family revoked (${names.join(", ")})`);
  t.ok(names.includes("INSERT Event"), "its event recorded");
  if (POSTGRES) {
    t.ok(names.includes("BEGIN") && names.includes("COMMIT"), "in one transaction");
    t.match(childrenOf(all, span)[0]!.attributes, { "server.address": "127.0.0.1", "server.port": 5432 });
  }
});
