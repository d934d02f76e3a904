import t from "tap";
import { ADMIN_TOKEN, buildTestApp } from "../support/helper.js";

const WWW_AUTHENTICATE = 'Bearer realm="appgrant-admin"';

t.test("rejects requests without the right admin token with 401 and WWW-Authenticate", async (t) => {
  const test = await buildTestApp(t);
  const cases: { name: string; authorization?: string; message: RegExp }[] = [
    { name: "no Authorization header", message: /missing admin token/ },
    { name: "an empty Authorization header", authorization: "", message: /missing admin token/ },
    { name: "a wrong token", authorization: "Bearer wrong-token-0123456789abcdef0123456789", message: /invalid admin token/ },
    { name: "the token under the Basic scheme", authorization: `Basic ${ADMIN_TOKEN}`, message: /invalid admin token/ },
    { name: "the token without a scheme", authorization: ADMIN_TOKEN, message: /invalid admin token/ },
    { name: "the token with an extra character", authorization: `Bearer ${ADMIN_TOKEN}x`, message: /invalid admin token/ },
    { name: "the token missing its last character", authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, message: /invalid admin token/ },
    { name: "the token in upper case", authorization: `Bearer ${ADMIN_TOKEN.toUpperCase()}`, message: /invalid admin token/ },
    { name: "the token followed by a second word", authorization: `Bearer ${ADMIN_TOKEN} extra`, message: /invalid admin token/ },
    { name: "the scheme alone", authorization: "Bearer", message: /invalid admin token/ },
    { name: "the scheme and a space", authorization: "Bearer ", message: /invalid admin token/ },
    { name: "the scheme glued to the token", authorization: `Bearer${ADMIN_TOKEN}`, message: /invalid admin token/ },
  ];
  for (const c of cases) {
    for (const [method, url] of [
      ["GET", "/admin/v1/applications"],
      ["POST", "/admin/v1/applications"],
      ["GET", "/admin/v1/installations/some-id"],
    ] as const) {
      const res = await test.app.inject({
        method,
        url,
        headers: c.authorization !== undefined ? { authorization: c.authorization } : {},
        ...(method === "POST" ? { payload: { name: "x", redirect_uris: ["https://a.example/cb"], scopes: ["read"] } } : {}),
      });
      t.equal(res.statusCode, 401, `${c.name}: ${method} ${url} → 401`);
      t.same(
        res.json(),
        { statusCode: 401, code: "unauthorized", error: "Unauthorized", message: res.json().message, request_id: res.headers["x-request-id"] },
        `${c.name}: admin error shape`,
      );
      t.match(res.json().message, c.message, `${c.name}: says why`);
      t.equal(res.headers["www-authenticate"], WWW_AUTHENTICATE, `${c.name}: WWW-Authenticate`);
      t.notMatch(res.body, ADMIN_TOKEN, `${c.name}: does not echo the token`);
    }
  }
  t.equal(await test.app.domain.db.application.count(), 0, "no rejected POST created an application");
});

t.test("accepts the admin token under the Bearer scheme in any letter case", async (t) => {
  const test = await buildTestApp(t);
  for (const authorization of [`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, `BEARER ${ADMIN_TOKEN}`, `Bearer  ${ADMIN_TOKEN}`]) {
    const res = await test.app.inject({ method: "GET", url: "/admin/v1/applications", headers: { authorization } });
    t.equal(res.statusCode, 200, JSON.stringify(authorization));
    t.notOk(res.headers["www-authenticate"]);
  }
});

t.test("answers unknown admin routes with an admin-shaped 404, after authentication", async (t) => {
  const test = await buildTestApp(t);
  const found = await test.admin("GET", "/admin/v1/widgets?x=1");
  t.equal(found.statusCode, 404);
  t.same(found.json(), {
    statusCode: 404,
    code: "not_found",
    error: "Not Found",
    message: "no admin route GET /admin/v1/widgets",
    request_id: found.headers["x-request-id"],
  });

  const wrongMethod = await test.admin("PUT", "/admin/v1/applications");
  t.equal(wrongMethod.statusCode, 404);
  t.equal(wrongMethod.json().code, "not_found");

  const anonymous = await test.app.inject({ method: "GET", url: "/admin/v1/widgets" });
  t.equal(anonymous.statusCode, 401, "without the token, whether a route exists is not revealed");
  t.equal(anonymous.headers["www-authenticate"], WWW_AUTHENTICATE);
});

t.test("answers 503 saying how to enable the admin API when APPGRANT_ADMIN_TOKEN is unset", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_ADMIN_TOKEN: "" });
  t.equal(test.config.adminToken, undefined);
  for (const headers of [{}, { authorization: `Bearer ${ADMIN_TOKEN}` }, { authorization: "Bearer " }]) {
    for (const url of ["/admin/v1/applications", "/admin/v1/widgets"]) {
      const res = await test.app.inject({ method: "GET", url, headers });
      t.equal(res.statusCode, 503, `${url} with ${JSON.stringify(headers)}`);
      t.match(res.json(), { statusCode: 503, code: "admin_disabled", error: "Service Unavailable" });
      t.match(res.json().message, /set APPGRANT_ADMIN_TOKEN/, "the message says which variable to set");
    }
  }
  const health = await test.app.inject({ method: "GET", url: "/healthz" });
  t.equal(health.statusCode, 200, "the rest of the server still runs");
});
