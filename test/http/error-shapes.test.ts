// Every error answer comes in the shape of the endpoint it belongs to, including the
// ones no route handler sees: the router's (bad percent-encoding, a too-long path
// parameter), the HTTP parser's (header overflow, a malformed request line), unknown
// paths, and the body parsers'. /oauth/* speaks RFC 6749 ({error, error_description}),
// /oauth/authorize speaks HTML to a browser, everything else (the admin API, discovery,
// health, unknown paths) {statusCode, code, error, message} with `error` the status's
// own reason phrase.
import { STATUS_CODES } from "node:http";
import { connect } from "node:net";
import type { Response as InjectResponse } from "light-my-request";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";

const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

function expectAdminShape(t: Test, res: InjectResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status}: ${res.body.slice(0, 200)}`);
  t.match(res.headers["content-type"], /^application\/json/);
  const body = res.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ["code", "error", "message", "request_id", "statusCode"], "{statusCode, code, error, message, request_id}");
  t.equal(body.request_id, res.headers["x-request-id"], "request_id is the X-Request-Id header");
  t.equal(body.statusCode, status, "statusCode is the status");
  t.equal(body.code, code);
  t.equal(body.error, STATUS_CODES[status], `error is the reason phrase of ${status}`);
  t.type(body.message, "string");
  t.notMatch(body.message, /FST_|Fastify/, "no framework internals in the message");
}

function expectOAuthShape(t: Test, res: InjectResponse, status: number): void {
  t.equal(res.statusCode, status, res.body.slice(0, 200));
  const body = res.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ["error", "error_description"], "{error, error_description}");
  t.equal(body.error, "invalid_request");
  t.equal(res.headers["cache-control"], "no-store");
}

const inject = (test: TestApp, method: string, url: string, extra: Record<string, unknown> = {}) =>
  test.app.inject({ method: method as "GET", url, ...extra });

t.test("unknown paths outside the admin API and OAuth answer 404 in the {statusCode, code, error, message} shape", async (t) => {
  const test = await buildTestApp(t);
  for (const [method, url] of [
    ["GET", "/nothing"],
    ["POST", "/nothing"],
    ["GET", "/admin"],
    ["GET", "/admin/v2/applications"],
    ["POST", "/healthz"],
    ["DELETE", "/.well-known/oauth-authorization-server"],
    ["OPTIONS", "/healthz"],
    ["GET", "/../etc/passwd"],
  ] as const) {
    expectAdminShape(t, await inject(test, method, url), 404, "not_found");
  }
  const head = await inject(test, "HEAD", "/nothing");
  t.equal(head.statusCode, 404, "HEAD of an unknown path: 404");
});

t.test("the admin API answers unknown routes and methods in its shape, with or without the token", async (t) => {
  const test = await buildTestApp(t);
  expectAdminShape(t, await inject(test, "GET", "/admin/v1/nothing", { headers: AUTH }), 404, "not_found");
  expectAdminShape(t, await inject(test, "OPTIONS", "/admin/v1/applications", { headers: AUTH }), 404, "not_found");
  expectAdminShape(t, await inject(test, "PUT", "/admin/v1/applications", { headers: AUTH }), 404, "not_found");
  expectAdminShape(t, await inject(test, "GET", "/admin/v1/nothing"), 401, "unauthorized");
  const head = await inject(test, "HEAD", "/admin/v1/applications", { headers: AUTH });
  t.equal(head.statusCode, 200, "HEAD of a GET route answers like the GET, without a body");
  t.equal(head.body, "");
});

t.test("a path that is not valid percent-encoded UTF-8 is a 400 in the shape of where it points", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_CONSENT_URL: "https://platform.example/consent" });
  for (const url of ["/admin/v1/applications/%zz", "/admin/v1/applications/%ED%A0%80/secrets", "/admin/v1/%C0%80", "/%zz", "/healthz/%E0%A4%A"]) {
    expectAdminShape(t, await inject(test, "GET", url, { headers: AUTH }), 400, "invalid_request");
  }
  expectOAuthShape(t, await inject(test, "POST", "/oauth/tok%zzen"), 400);
  expectOAuthShape(t, await inject(test, "POST", "/oauth/introspect/%zz"), 400);
  const page = await inject(test, "GET", "/oauth/authorize%zz");
  t.equal(page.statusCode, 400);
  t.match(page.headers["content-type"], /^text\/html/, "the browser-facing endpoint answers a page");
  t.equal(page.headers.location, undefined);
});

t.test("a path parameter longer than the router allows is a 414 labelled URI Too Long, in the admin shape", async (t) => {
  const test = await buildTestApp(t);
  const id = "a".repeat(150);
  for (const url of [`/admin/v1/applications/${id}`, `/admin/v1/installations/${id}/code`, `/admin/v1/authorization-requests/${id}`]) {
    const res = await inject(test, "GET", url, { headers: AUTH });
    expectAdminShape(t, res, 414, "invalid_request");
    t.notOk(res.body.includes(id), "the long value is not echoed");
  }
});

t.test("the body parsers' refusals in the admin API come in its shape, with the right label", async (t) => {
  const test = await buildTestApp(t);
  const post = (headers: Record<string, string>, payload: string) =>
    inject(test, "POST", "/admin/v1/applications", { headers: { ...AUTH, ...headers }, payload });
  expectAdminShape(t, await post({ "content-type": "application/json" }, "{"), 400, "invalid_request");
  expectAdminShape(t, await post({ "content-type": "application/json" }, ""), 400, "invalid_request");
  expectAdminShape(t, await post({ "content-type": "application/json" }, '{"__proto__":{"x":1}}'), 400, "invalid_request");
  expectAdminShape(t, await post({ "content-type": "application/xml" }, "<a/>"), 415, "invalid_request");
  expectAdminShape(t, await post({ "content-type": "application/json" }, JSON.stringify({ name: "x".repeat(70_000) })), 413, "invalid_request");
  expectAdminShape(t, await post({ "content-type": "application/json", "content-length": "5" }, "{}"), 400, "invalid_request");
});

/** One raw HTTP/1.1 exchange, for what app.inject cannot send (oversized headers, a broken request line). */
function raw(port: number, request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer in 5 s")));
    socket.on("data", (chunk) => (data += chunk.toString("latin1")));
    socket.on("error", (error) => (data ? undefined : reject(error)));
    socket.on("close", () => {
      const [head = "", body = ""] = data.split("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), headers: head, body });
    });
    socket.write(request);
  });
}

t.test("the HTTP parser's refusals (oversized headers, a broken request) come in a JSON error shape with their own label", async (t) => {
  const test = await buildTestApp(t);
  await test.app.listen({ port: 0, host: "127.0.0.1" });
  const port = (test.app.server.address() as { port: number }).port;

  const cases: [request: string, status: number, oauth: boolean][] = [
    [`GET /admin/v1/applications HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, false],
    [`GET /admin/v1/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, false],
    [`POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, true],
    ["GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, false],
    ["BREW /admin/v1/applications HTCPCP/1.0\r\n\r\n", 400, false],
    ["GET /admin/v1/applications HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, false],
  ];
  for (const [request, status, oauth] of cases) {
    const res = await raw(port, request);
    t.equal(res.status, status, `${request.slice(0, 40)}… → ${status}`);
    t.match(res.headers, new RegExp(`^HTTP/1\\.1 ${status} ${STATUS_CODES[status]}\\r\\n`), "the status line's reason phrase");
    const body = JSON.parse(res.body) as Record<string, unknown>;
    if (oauth) t.same(Object.keys(body).sort(), ["error", "error_description"], "an OAuth path: the RFC 6749 shape");
    else {
      t.same(
        body,
        { statusCode: status, code: "invalid_request", error: STATUS_CODES[status], message: body.message, request_id: body.request_id },
        "the admin shape",
      );
      t.match(res.headers, new RegExp(`\r\nX-Request-Id: ${body.request_id}\r\n`, "i"), "its request id in the header too");
    }
  }
  const after = await test.app.inject({ method: "GET", url: "/healthz" });
  t.equal(after.statusCode, 200, "the server serves on");
});
