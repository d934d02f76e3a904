// POST /oauth/revoke (RFC 7009): client-authenticated like the token endpoint;
// revoking a refresh token revokes its whole family, revoking an access token
// revokes its pair; a token of another client is left alone; the answer is 200 for
// any token, known or not, and never cached.
import t, { type Test } from "tap";
import type { Response as InjectResponse } from "light-my-request";
import { generateCredential } from "../../src/crypto/tokens.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import {
  basic,
  type ClientCredentials,
  expectError,
  expectNothingSecretLogged,
  expectNoStore,
  expectTokens,
  formBody,
  refresh,
  remember,
  setup,
  tokenRow,
} from "../support/oauth-helper.js";

const HOUR = 3600;

type Auth = "basic" | "post" | "none";

/** POST /oauth/revoke with form params, authenticated as `client` (basic by default for a confidential client). */
function revoke(
  test: TestApp,
  params: Record<string, string>,
  client?: ClientCredentials,
  auth: Auth = client?.client_secret ? "basic" : "none",
  headers: Record<string, string> = {},
): Promise<InjectResponse> {
  const body = { ...params };
  const allHeaders: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", ...headers };
  if (client && auth === "basic") allHeaders.authorization = basic(client.client_id, client.client_secret ?? "");
  if (client && auth === "post") Object.assign(body, { client_id: client.client_id, client_secret: client.client_secret ?? "" });
  if (client && auth === "none") body.client_id = client.client_id;
  return test.app.inject({ method: "POST", url: "/oauth/revoke", headers: allHeaders, payload: formBody(body) });
}

/** Introspection as a resource server of the platform (admin bearer). */
async function isActive(test: TestApp, token: string): Promise<boolean> {
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { authorization: `Bearer ${test.config.adminToken}`, "content-type": "application/x-www-form-urlencoded" },
    payload: formBody({ token }),
  });
  if (res.statusCode !== 200) throw new Error(`introspection answered ${res.statusCode} ${res.body}`);
  return (res.json() as { active: boolean }).active;
}

/** RFC 7009 §2.2: 200 with an empty body, not cacheable. */
function expectRevoked200(t: Test, res: InjectResponse, what: string): void {
  t.equal(res.statusCode, 200, `${what}: 200 (${res.statusCode === 200 ? "" : res.body})`);
  t.equal(res.body, "", `${what}: empty body`);
  expectNoStore(t, res);
}

async function familyRows(test: TestApp, refreshToken: string) {
  const row = await tokenRow(test, refreshToken);
  return test.app.domain.db.token.findMany({ where: { familyId: row.familyId }, orderBy: { generation: "asc" } });
}

t.test("revoking a refresh token after a rotation revokes its whole family, ancestor or current", async (t) => {
  const cases = [
    { name: "the current (generation 2) refresh token", pick: (pairs: { first: string; second: string }) => pairs.second },
    { name: "the rotated ancestor (generation 1) refresh token", pick: (pairs: { first: string; second: string }) => pairs.first },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildTestApp(t);
      const { client, tokens: first } = await setup(test);
      test.clock.advance(HOUR);
      const second = expectTokens(t, await refresh(test, client, first.refresh_token));
      // Another client's family must survive.
      const bystander = await setup(test);

      test.clock.advance(120); // later than the rotation and its grace period
      expectRevoked200(t, await revoke(test, { token: c.pick({ first: first.refresh_token, second: second.refresh_token }) }, client), "revocation");

      const rows = await familyRows(test, second.refresh_token);
      t.equal(rows.length, 2, "the family has both generations");
      t.same(
        rows.map((row) => row.revokedAt !== null),
        [true, true],
        "every token of the family, ancestor and successor, has revokedAt",
      );
      t.same(
        rows.map((row) => row.revokedReason),
        ["revoked", "revoked"],
        "revoked by its client, not by reuse detection",
      );
      t.ok(!(await isActive(test, second.access_token)), "the successor's access token introspects inactive");
      t.ok(!(await isActive(test, second.refresh_token)), "the successor's refresh token introspects inactive");
      const refused = await refresh(test, client, second.refresh_token);
      expectError(t, test, refused, "invalid_grant", 400);
      t.pass("the successor refresh token no longer refreshes");

      t.ok(await isActive(test, bystander.tokens.access_token), "another family is untouched");
      expectTokens(t, await refresh(test, bystander.client, bystander.tokens.refresh_token));
      expectNothingSecretLogged(t, test);
    });
  }
});

t.test("revoking an access token revokes its pair: it introspects inactive and its refresh token no longer refreshes", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  t.ok(await isActive(test, tokens.access_token), "active before");
  expectRevoked200(t, await revoke(test, { token: tokens.access_token }, client), "revocation");
  t.notOk(await isActive(test, tokens.access_token), "the access token introspects inactive");
  t.notOk(await isActive(test, tokens.refresh_token), "its refresh token introspects inactive");
  const row = await tokenRow(test, tokens.refresh_token);
  t.ok(row.revokedAt, "the pair's row has revokedAt");
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  t.pass("its refresh token no longer refreshes");
});

t.test("a token of another client is ignored: 200, and it stays active", async (t) => {
  const test = await buildTestApp(t);
  const owner = await setup(test);
  const intruder = await setup(test);
  for (const kind of ["access_token", "refresh_token"] as const) {
    expectRevoked200(t, await revoke(test, { token: owner.tokens[kind] }, intruder.client), `another client's ${kind}`);
    t.ok(await isActive(test, owner.tokens[kind]), `the owner's ${kind} is still active`);
  }
  const row = await tokenRow(test, owner.tokens.refresh_token);
  t.equal(row.revokedAt, null, "nothing was revoked");
  expectTokens(t, await refresh(test, owner.client, owner.tokens.refresh_token));
  t.pass("the owner can still refresh");
});

t.test("an unknown or malformed token is answered 200 and changes nothing", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const unknown = [
    { name: "garbage", token: "not-a-token" },
    { name: "a well-formed access token never issued", token: generateCredential("accessToken") },
    { name: "a well-formed refresh token never issued", token: generateCredential("refreshToken") },
    { name: "an access token with one character changed", token: tokens.access_token.slice(0, -1) + (tokens.access_token.endsWith("a") ? "b" : "a") },
    { name: "a client secret", token: client.client_secret! },
    { name: "a very long value", token: "x".repeat(4000) },
  ];
  for (const c of unknown) {
    for (const hint of [undefined, "access_token", "refresh_token"]) {
      const params: Record<string, string> = { token: c.token, ...(hint ? { token_type_hint: hint } : {}) };
      expectRevoked200(t, await revoke(test, params, client), `${c.name}${hint ? ` (hint ${hint})` : ""}`);
    }
  }
  t.ok(await isActive(test, tokens.access_token), "the client's real tokens are untouched");
  t.equal(await test.app.domain.db.token.count({ where: { revokedAt: { not: null } } }), 0, "no token row was revoked");
});

t.test("a missing or empty token parameter is invalid_request (400)", async (t) => {
  const test = await buildTestApp(t);
  const { client } = await setup(test);
  expectError(t, test, await revoke(test, {}, client), "invalid_request", 400);
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  expectError(t, test, await revoke(test, { token: "" }, client), "invalid_request", 400);
  expectError(t, test, await revoke(test, { token_type_hint: "access_token" }, client), "invalid_request", 400);
});

t.test("failed client authentication is invalid_client (401) and revokes nothing", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const wrongSecret = generateCredential("clientSecret");
  remember(test, wrongSecret);
  const cases: { name: string; client?: ClientCredentials; auth?: Auth; headers?: Record<string, string>; basicHeader?: boolean }[] = [
    { name: "no client authentication at all" },
    { name: "wrong secret over HTTP Basic", client: { client_id: client.client_id, client_secret: wrongSecret }, auth: "basic", basicHeader: true },
    { name: "wrong secret in the body", client: { client_id: client.client_id, client_secret: wrongSecret }, auth: "post" },
    { name: "a confidential client's client_id without its secret", client: { client_id: client.client_id, client_secret: null }, auth: "none" },
    {
      name: "an unknown client_id",
      client: { client_id: "unknownclient0000000", client_secret: client.client_secret },
      auth: "basic",
      basicHeader: true,
    },
    { name: "the admin token as a bearer (revocation is for clients)", headers: { authorization: `Bearer ${test.config.adminToken}` } },
  ];
  for (const c of cases) {
    for (const kind of ["access_token", "refresh_token"] as const) {
      const res = await revoke(test, { token: tokens[kind] }, c.client, c.auth, c.headers);
      expectError(t, test, res, "invalid_client", 401, [wrongSecret]);
      if (c.basicHeader) t.match(res.headers["www-authenticate"], /^Basic /, `${c.name}: WWW-Authenticate Basic`);
    }
  }
  t.ok(await isActive(test, tokens.access_token), "the access token is still active");
  t.ok(await isActive(test, tokens.refresh_token), "the refresh token is still active");
  expectNothingSecretLogged(t, test);
});

t.test("token_type_hint is only a hint: a wrong or unknown hint still revokes", async (t) => {
  const cases = [
    { name: "an access token hinted as refresh_token", kind: "access_token", hint: "refresh_token" },
    { name: "a refresh token hinted as access_token", kind: "refresh_token", hint: "access_token" },
    { name: "an access token with an unknown hint", kind: "access_token", hint: "id_token" },
    { name: "a refresh token with an unknown hint", kind: "refresh_token", hint: "whatever" },
  ] as const;
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildTestApp(t);
      const { client, tokens } = await setup(test);
      expectRevoked200(t, await revoke(test, { token: tokens[c.kind], token_type_hint: c.hint }, client), "revocation");
      t.notOk(await isActive(test, tokens.access_token), "the access token is inactive");
      t.notOk(await isActive(test, tokens.refresh_token), "the refresh token is inactive");
    });
  }
});

t.test("every way of authenticating the client revokes: basic, post, and a public client by client_id", async (t) => {
  const cases = [
    { name: "client_secret_basic", app: {}, auth: "basic" },
    { name: "client_secret_post", app: {}, auth: "post" },
    { name: "public client, client_id in the body", app: { client_type: "public" }, auth: "none" },
  ] as const;
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildTestApp(t);
      const { client, tokens } = await setup(test, { app: c.app });
      expectRevoked200(t, await revoke(test, { token: tokens.refresh_token }, client, c.auth), "revocation");
      t.notOk(await isActive(test, tokens.refresh_token), "revoked");
    });
  }
});

t.test("a JSON body is accepted like a form", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/revoke",
    headers: { "content-type": "application/json", authorization: basic(client.client_id, client.client_secret!) },
    payload: JSON.stringify({ token: tokens.refresh_token }),
  });
  expectRevoked200(t, res, "JSON revocation");
  t.notOk(await isActive(test, tokens.access_token), "revoked");
});

t.test("revoking twice is still 200 and keeps the first revocation's time", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  expectRevoked200(t, await revoke(test, { token: tokens.refresh_token }, client), "first revocation");
  const first = (await tokenRow(test, tokens.refresh_token)).revokedAt;
  test.clock.advance(HOUR);
  expectRevoked200(t, await revoke(test, { token: tokens.refresh_token }, client), "second revocation");
  expectRevoked200(t, await revoke(test, { token: tokens.access_token }, client), "revoking the pair's access token afterwards");
  t.same((await tokenRow(test, tokens.refresh_token)).revokedAt, first, "revokedAt unchanged");
});

t.test("GET /oauth/revoke is refused with 405 and Allow: POST", async (t) => {
  const test = await buildTestApp(t);
  const res = await test.app.inject({ method: "GET", url: "/oauth/revoke" });
  t.equal(res.statusCode, 405);
  t.equal(res.headers.allow, "POST");
});

t.test("a repeated token parameter is invalid_request and revokes neither token", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/revoke",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret!) },
    payload: formBody([
      ["token", tokens.access_token],
      ["token", tokens.refresh_token],
    ]),
  });
  expectError(t, test, res, "invalid_request", 400);
  t.ok(await isActive(test, tokens.access_token), "still active");
});
