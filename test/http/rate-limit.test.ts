import { randomBytes } from "node:crypto";
import t from "tap";
import { limitAddress } from "../../src/http/oauth/rate-limit.js";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

function token(test: TestApp, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: form(fields),
  });
}

t.test("limits requests per IP with 429, Retry-After and the RFC error shape", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_PER_IP: "3", APPGRANT_RATE_LIMIT_PER_CLIENT: "0" });
  const statuses: number[] = [];
  let last: Awaited<ReturnType<typeof token>> | undefined;
  for (let i = 0; i < 5; i++) {
    last = await token(test, { grant_type: "refresh_token", refresh_token: "x", client_id: "nobody" });
    statuses.push(last.statusCode);
  }
  t.same(statuses, [401, 401, 401, 429, 429]);
  t.equal(last!.json().error, "temporarily_unavailable");
  t.match(last!.json().error_description, /retry after \d+ seconds/);
  t.ok(Number(last!.headers["retry-after"]) > 0, "Retry-After says when");
  t.equal(last!.headers["cache-control"], "no-store");
});

t.test("limits requests per client, whichever IP they come from", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_PER_IP: "0", APPGRANT_RATE_LIMIT_PER_CLIENT: "2" });
  const app = await createApp(test);
  const other = await createApp(test);
  const send = (clientId: string, secret: string, ip: string) =>
    test.app.inject({
      method: "POST",
      url: "/oauth/token",
      remoteAddress: ip,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: form({ grant_type: "refresh_token", refresh_token: "x", client_id: clientId, client_secret: secret }),
    });
  const codes = [];
  for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) codes.push((await send(app.client_id, app.client_secret!, ip)).statusCode);
  t.same(codes, [400, 400, 429], "the third request of one client is refused");
  t.equal((await send(other.client_id, other.client_secret!, "10.0.0.3")).statusCode, 400, "another client is not affected");
});

t.test("after too many failed authentications even the right secret is refused before verification", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_AUTH_FAILURES: "3" });
  const app = await createApp(test);
  const installation = await install(test, app.client_id);
  const wrong = `ags_${"A".repeat(49)}`;
  for (let i = 0; i < 3; i++) {
    const res = await token(test, { grant_type: "authorization_code", code: installation.code, client_id: app.client_id, client_secret: wrong });
    t.equal(res.statusCode, 401);
  }
  const blocked = await token(test, {
    grant_type: "authorization_code",
    code: installation.code,
    client_id: app.client_id,
    client_secret: app.client_secret!,
  });
  t.equal(blocked.statusCode, 429);
  t.equal(blocked.json().error, "temporarily_unavailable");
  t.ok(Number(blocked.headers["retry-after"]) > 0, "Retry-After says when");
  const grant = await test.app.domain.db.authorizationCode.findFirstOrThrow({ where: { installationId: installation.id } });
  t.equal(grant.consumedAt, null, "the refused requests changed nothing");
});

t.test("resource servers introspecting with the admin token are not limited", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_PER_IP: "2", APPGRANT_RATE_LIMIT_PER_CLIENT: "2" });
  for (let i = 0; i < 5; i++) {
    const res = await test.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { token: "aga_unknown" },
    });
    t.equal(res.statusCode, 200);
  }
  const client = await test.app.inject({ method: "POST", url: "/oauth/introspect", payload: { token: "x", client_id: "c" } });
  const again = await test.app.inject({ method: "POST", url: "/oauth/introspect", payload: { token: "x", client_id: "c" } });
  const third = await test.app.inject({ method: "POST", url: "/oauth/introspect", payload: { token: "x", client_id: "c" } });
  t.same([client.statusCode, again.statusCode, third.statusCode], [401, 401, 429], "other callers are");
});

t.test("with REDIS_URL the limits hold across processes", async (t) => {
  const env = {
    REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    APPGRANT_REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:`,
    APPGRANT_RATE_LIMIT_PER_IP: "4",
    APPGRANT_RATE_LIMIT_AUTH_FAILURES: "2",
  };
  const first = await buildTestApp(t, env);
  const second = await buildTestApp(t, env);
  const codes = [];
  for (const test of [first, second, first, second, first]) {
    codes.push((await token(test, { grant_type: "refresh_token", refresh_token: "x", client_id: "nobody" })).statusCode);
  }
  // Two failures allowed in all, counted across both processes; then refused before verification.
  t.same(codes, [401, 401, 429, 429, 429]);
});

t.test("an IPv6 caller is counted by its /64, an IPv4-mapped one as its IPv4 address", async (t) => {
  t.equal(limitAddress("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  t.equal(limitAddress("2001:db8:1:2::ffff"), "2001:db8:1:2::/64", "one subscriber's block is one caller");
  t.equal(limitAddress("::ffff:192.0.2.1"), "192.0.2.1");
  t.equal(limitAddress("192.0.2.1"), "192.0.2.1");
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_PER_IP: "2", APPGRANT_RATE_LIMIT_PER_CLIENT: "0" });
  const from = (remoteAddress: string) =>
    test.app.inject({
      method: "POST",
      url: "/oauth/token",
      remoteAddress,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: form({ grant_type: "refresh_token", refresh_token: "x", client_id: "nobody" }),
    });
  const codes = [];
  for (const address of ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8:0:1::1"]) codes.push((await from(address)).statusCode);
  t.same(codes, [401, 401, 429, 401], "a new address in the same /64 is the same caller; another /64 is not");
});
