// While draining (src/main/shutdown.ts), every endpoint answers 503 with Connection: close
// in its own error shape; before, nothing changes. The real signal path, under load,
// is test/fault/sigterm-drain.test.ts.
import t from "tap";
import { ConfigError, loadConfig } from "../../src/main/config.js";
import { buildTestApp } from "../support/helper.js";

t.test("a draining server answers 503 + Connection: close in each endpoint's shape", async (t) => {
  const { app, admin } = await buildTestApp(t);
  const before = await app.inject({ method: "GET", url: "/healthz" });
  t.equal(before.statusCode, 200);
  t.not(before.headers.connection, "close", "no Connection: close before the drain");

  app.startDraining();
  t.equal(app.draining, true);

  const token = await app.inject({ method: "POST", url: "/oauth/token", payload: { grant_type: "refresh_token", refresh_token: "x" } });
  t.equal(token.statusCode, 503);
  t.equal(token.headers.connection, "close");
  t.equal(token.headers["cache-control"], "no-store");
  t.same(token.json(), { error: "temporarily_unavailable", error_description: token.json().error_description });
  t.match(token.json().error_description, /shutting down/);

  const listing = await admin("GET", "/admin/v1/applications");
  t.equal(listing.statusCode, 503);
  t.equal(listing.headers.connection, "close");
  t.same(Object.keys(listing.json()).sort(), ["code", "error", "message", "request_id", "statusCode"]);
  t.match(listing.json(), { statusCode: 503, code: "unavailable", error: "Service Unavailable" });

  const unauthenticated = await app.inject({ method: "GET", url: "/admin/v1/applications" });
  t.equal(unauthenticated.statusCode, 503, "no admin token needed to learn the server is going away");

  const ready = await app.inject({ method: "GET", url: "/readyz" });
  t.equal(ready.statusCode, 503, "/readyz fails: load balancers stop sending");
  t.same(ready.json(), { status: "shutting down" });
  t.equal(ready.headers.connection, "close");

  const health = await app.inject({ method: "GET", url: "/healthz" });
  t.equal(health.statusCode, 503);
  t.same(health.json(), { status: "shutting down" }, "the probes keep their {status} shape");

  const discovery = await app.inject({ method: "GET", url: "/.well-known/oauth-authorization-server" });
  t.equal(discovery.statusCode, 503);
  t.equal(discovery.headers.connection, "close");
});

t.test("APPGRANT_SHUTDOWN_GRACE: default 8 s, 1 to 3600", async (t) => {
  t.equal(loadConfig({}).shutdownGrace, 8);
  t.equal(loadConfig({ APPGRANT_SHUTDOWN_GRACE: "30" }).shutdownGrace, 30);
  for (const bad of ["0", "3601", "5s"]) {
    t.throws(() => loadConfig({ APPGRANT_SHUTDOWN_GRACE: bad }), new ConfigError("APPGRANT_SHUTDOWN_GRACE", ""), `refuses ${bad}`);
    t.throws(() => loadConfig({ APPGRANT_SHUTDOWN_GRACE: bad }), /^APPGRANT_SHUTDOWN_GRACE: /);
  }
});
