// POST /oauth/introspect (RFC 7662): a resource server of the platform presents the
// admin token; an application authenticates as a client and sees only its own
// tokens. An active token is described field by field; anything else is exactly
// {active: false}.
import t, { type Test } from "tap";
import type { Response as InjectResponse } from "light-my-request";
import { generateCredential } from "../../src/crypto/tokens.js";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";
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
} from "../support/oauth-helper.js";

const HOUR = 3600;
const DAY = 86_400;
/** The documented default lifetimes (APPGRANT_ACCESS_TOKEN_LIFETIME, APPGRANT_REFRESH_TOKEN_LIFETIME). */
const ACCESS_LIFETIME = 8 * HOUR;
const REFRESH_LIFETIME = 180 * DAY;

const FIELDS = ["account", "active", "aud", "client_id", "exp", "iat", "installation_id", "iss", "scope", "sub", "token_type"];

type Caller = { bearer: string } | { client: ClientCredentials; auth?: "basic" | "post" } | { none: true };

const asResourceServer: Caller = { bearer: ADMIN_TOKEN };

function introspect(test: TestApp, params: Record<string, string>, caller: Caller = asResourceServer): Promise<InjectResponse> {
  const body = { ...params };
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if ("bearer" in caller) headers.authorization = `Bearer ${caller.bearer}`;
  if ("client" in caller) {
    const { client } = caller;
    const auth = caller.auth ?? (client.client_secret ? "basic" : "post");
    if (auth === "basic") headers.authorization = basic(client.client_id, client.client_secret ?? "");
    else Object.assign(body, { client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) });
  }
  return test.app.inject({ method: "POST", url: "/oauth/introspect", headers, payload: formBody(body) });
}

function expectInactive(t: Test, res: InjectResponse, what: string): void {
  t.equal(res.statusCode, 200, `${what}: 200`);
  t.same(res.json(), { active: false }, `${what}: exactly {active: false}`);
  expectNoStore(t, res);
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

t.test("a resource server sees an active access token with every field right", async (t) => {
  const cases: { name: string; env: Record<string, string>; aud: (test: TestApp) => string }[] = [
    { name: "aud defaults to the issuer", env: {}, aud: (test: TestApp) => test.config.issuer },
    {
      name: "aud is APPGRANT_AUDIENCE when set",
      env: { APPGRANT_AUDIENCE: "https://api.platform.example", APPGRANT_ISSUER: "https://auth.platform.example" },
      aud: () => "https://api.platform.example",
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildTestApp(t, c.env);
      test.clock.advance(12_345); // iat is the exchange time, not some fixed epoch
      const issuedAt = seconds(test.clock());
      const { client, installation, tokens } = await setup(test, { install: { account: "acme-42", scopes: ["read", "write"] } });
      test.clock.advance(HOUR); // introspection time does not change iat or exp

      const res = await introspect(test, { token: tokens.access_token });
      t.equal(res.statusCode, 200);
      expectNoStore(t, res);
      const body = res.json() as Record<string, unknown>;
      t.same(Object.keys(body).sort(), FIELDS, "exactly the RFC 7662 fields appgrant documents");
      t.strictSame(body, {
        active: true,
        scope: tokens.scope,
        client_id: client.client_id,
        token_type: "Bearer",
        exp: issuedAt + ACCESS_LIFETIME,
        iat: issuedAt,
        sub: "acme-42",
        aud: c.aud(test),
        iss: test.config.issuer,
        installation_id: installation.id,
        account: "acme-42",
      });
      t.equal(tokens.scope, "read write", "the scope is the installation's");
    });
  }
});

t.test("a refresh token introspects as token_type refresh_token with its own expiry", async (t) => {
  const test = await buildTestApp(t);
  const issuedAt = seconds(test.clock());
  const { client, installation, tokens } = await setup(test, { install: { account: "globex" } });
  const res = await introspect(test, { token: tokens.refresh_token });
  t.strictSame(res.json(), {
    active: true,
    scope: "read write",
    client_id: client.client_id,
    token_type: "refresh_token",
    exp: issuedAt + REFRESH_LIFETIME,
    iat: issuedAt,
    sub: "globex",
    aud: test.config.issuer,
    iss: test.config.issuer,
    installation_id: installation.id,
    account: "globex",
  });
});

t.test("a narrowed refresh reports the narrowed scope and the successor's iat", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  test.clock.advance(2 * HOUR);
  const refreshedAt = seconds(test.clock());
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token, { scope: "read" }));
  const body = (await introspect(test, { token: next.access_token })).json() as Record<string, unknown>;
  t.equal(body.active, true);
  t.equal(body.scope, "read");
  t.equal(body.iat, refreshedAt);
  t.equal(body.exp, refreshedAt + ACCESS_LIFETIME);
});

t.test("the answer never contains the token, nor any other credential", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  for (const token of [tokens.access_token, tokens.refresh_token]) {
    for (const caller of [asResourceServer, { client }]) {
      const res = await introspect(test, { token }, caller);
      t.equal((res.json() as { active: boolean }).active, true);
      for (const secret of [tokens.access_token, tokens.refresh_token, client.client_secret!, ADMIN_TOKEN]) {
        t.notOk(res.body.includes(secret), "the body carries no token or secret");
      }
    }
  }
  expectNothingSecretLogged(t, test);
});

t.test("an access token expires at exactly iat + lifetime; its refresh token lives on", async (t) => {
  const test = await buildTestApp(t);
  const { tokens } = await setup(test);
  test.clock.advance(ACCESS_LIFETIME - 1);
  t.equal((await introspect(test, { token: tokens.access_token })).json().active, true, "active one second before exp");
  test.clock.advance(1);
  expectInactive(t, await introspect(test, { token: tokens.access_token }), "access token at exp");
  t.equal((await introspect(test, { token: tokens.refresh_token })).json().active, true, "the refresh token is still active");
  test.clock.advance(REFRESH_LIFETIME - ACCESS_LIFETIME);
  expectInactive(t, await introspect(test, { token: tokens.refresh_token }), "refresh token at its exp");
});

t.test("rotation makes the old pair inactive and the new pair active", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  test.clock.advance(HOUR);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  expectInactive(t, await introspect(test, { token: tokens.access_token }), "the rotated pair's access token");
  expectInactive(t, await introspect(test, { token: tokens.refresh_token }), "the rotated refresh token (even within the grace period)");
  t.equal((await introspect(test, { token: next.access_token })).json().active, true, "the new access token is active");
  t.equal((await introspect(test, { token: next.refresh_token })).json().active, true, "the new refresh token is active");
});

t.test("revocation, uninstall and application deletion make both tokens inactive", async (t) => {
  const cases: { name: string; act: (test: TestApp, s: Awaited<ReturnType<typeof setup>> & { appId: string }) => Promise<void> }[] = [
    {
      name: "revoked through /oauth/revoke",
      act: async (test, s) => {
        const res = await test.app.inject({
          method: "POST",
          url: "/oauth/revoke",
          headers: { authorization: basic(s.client.client_id, s.client.client_secret!), "content-type": "application/x-www-form-urlencoded" },
          payload: formBody({ token: s.tokens.refresh_token }),
        });
        if (res.statusCode !== 200) throw new Error(`revoke: ${res.statusCode}`);
      },
    },
    {
      name: "installation uninstalled (DELETE /admin/v1/installations/{id})",
      act: async (test, s) => {
        const res = await test.admin("DELETE", `/admin/v1/installations/${s.installation.id}`);
        if (res.statusCode !== 204) throw new Error(`uninstall: ${res.statusCode}`);
      },
    },
    {
      name: "application deleted (DELETE /admin/v1/applications/{id})",
      act: async (test, s) => {
        const res = await test.admin("DELETE", `/admin/v1/applications/${s.appId}`);
        if (res.statusCode !== 204) throw new Error(`delete application: ${res.statusCode}`);
      },
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildTestApp(t);
      const s = await setup(test);
      const bystander = await setup(test);
      for (const token of [s.tokens.access_token, s.tokens.refresh_token]) {
        t.equal((await introspect(test, { token })).json().active, true, "active before");
      }
      await c.act(test, { ...s, appId: s.client.id });
      expectInactive(t, await introspect(test, { token: s.tokens.access_token }), "access token");
      expectInactive(t, await introspect(test, { token: s.tokens.refresh_token }), "refresh token");
      t.equal((await introspect(test, { token: bystander.tokens.access_token })).json().active, true, "another application's token is unaffected");
    });
  }
});

t.test("an application sees its own tokens and never another application's", async (t) => {
  const test = await buildTestApp(t);
  const mine = await setup(test, { install: { account: "initech" } });
  const theirs = await setup(test);
  const pub = await setup(test, { app: { client_type: "public" } });
  const cases = [
    { name: "basic", client: mine.client, auth: "basic" as const },
    { name: "client_secret_post", client: mine.client, auth: "post" as const },
  ];
  for (const c of cases) {
    for (const token of [mine.tokens.access_token, mine.tokens.refresh_token]) {
      const body = (await introspect(test, { token }, { client: c.client, auth: c.auth })).json() as Record<string, unknown>;
      t.equal(body.active, true, `${c.name}: its own token is active`);
      t.equal(body.client_id, mine.client.client_id);
      t.equal(body.installation_id, mine.installation.id);
      t.equal(body.account, "initech");
    }
    for (const token of [theirs.tokens.access_token, theirs.tokens.refresh_token, pub.tokens.access_token]) {
      expectInactive(t, await introspect(test, { token }, { client: c.client, auth: c.auth }), `${c.name}: another application's token`);
    }
  }
  // A client_id alone proves nothing (RFC 7662 §2.1): a public client cannot introspect, even its own tokens.
  for (const token of [pub.tokens.access_token, mine.tokens.access_token]) {
    const refused = await introspect(test, { token }, { client: pub.client });
    t.equal(refused.statusCode, 401, "a public client is refused");
    t.equal(refused.json().error, "invalid_client");
  }
  t.equal((await introspect(test, { token: theirs.tokens.access_token })).json().active, true, "the resource server still sees it active");
});

t.test("wrong or missing caller credentials are invalid_client (401)", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const wrongSecret = generateCredential("clientSecret");
  remember(test, wrongSecret);
  const cases: { name: string; caller: Caller; challenge?: RegExp }[] = [
    { name: "no credentials at all", caller: { none: true } },
    { name: "a wrong bearer token", caller: { bearer: `${ADMIN_TOKEN}x` }, challenge: /^Bearer / },
    { name: "an access token as the bearer", caller: { bearer: tokens.access_token }, challenge: /^Bearer / },
    {
      name: "a wrong client secret over HTTP Basic",
      caller: { client: { client_id: client.client_id, client_secret: wrongSecret } },
      challenge: /^Basic /,
    },
    { name: "a wrong client secret in the body", caller: { client: { client_id: client.client_id, client_secret: wrongSecret }, auth: "post" } },
    { name: "a confidential client_id without a secret", caller: { client: { client_id: client.client_id, client_secret: null }, auth: "post" } },
    {
      name: "an unknown client",
      caller: { client: { client_id: "unknownclient0000000", client_secret: client.client_secret } },
      challenge: /^Basic /,
    },
  ];
  for (const c of cases) {
    for (const token of [tokens.access_token, "garbage"]) {
      const res = await introspect(test, { token }, c.caller);
      expectError(t, test, res, "invalid_client", 401, [wrongSecret, `${ADMIN_TOKEN}x`]);
      if (c.challenge) t.match(res.headers["www-authenticate"], c.challenge, `${c.name}: WWW-Authenticate`);
      t.notOk(res.body.includes('"active"'), `${c.name}: says nothing about the token`);
    }
  }
  expectNothingSecretLogged(t, test);
});

t.test("garbage and unknown tokens are {active: false}, whatever the hint", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  const reissued = await test.admin("POST", `/admin/v1/installations/${installation.id}/code`);
  const code = (reissued.json() as { code: string }).code;
  remember(test, code);
  const cases = [
    { name: "garbage", token: "garbage" },
    { name: "an unknown well-formed access token", token: generateCredential("accessToken") },
    { name: "an unknown well-formed refresh token", token: generateCredential("refreshToken") },
    { name: "an access token with a broken checksum", token: tokens.access_token.slice(0, -1) + (tokens.access_token.endsWith("0") ? "1" : "0") },
    { name: "an authorization code", token: code },
    { name: "a client secret", token: client.client_secret! },
    { name: "a webhook secret", token: generateCredential("webhookSecret") },
  ];
  for (const c of cases) {
    for (const hint of [undefined, "access_token", "refresh_token"]) {
      for (const caller of [asResourceServer, { client }]) {
        expectInactive(t, await introspect(test, { token: c.token, ...(hint ? { token_type_hint: hint } : {}) }, caller), c.name);
      }
    }
  }
});

t.test("token_type_hint is only a hint: a wrong hint still finds the token", async (t) => {
  const test = await buildTestApp(t);
  const { tokens } = await setup(test);
  const cases = [
    { kind: "access_token", hint: "refresh_token", type: "Bearer" },
    { kind: "refresh_token", hint: "access_token", type: "refresh_token" },
    { kind: "access_token", hint: "nonsense", type: "Bearer" },
  ] as const;
  for (const c of cases) {
    const body = (await introspect(test, { token: tokens[c.kind], token_type_hint: c.hint })).json() as Record<string, unknown>;
    t.equal(body.active, true, `${c.kind} hinted ${c.hint}: active`);
    t.equal(body.token_type, c.type, `${c.kind} hinted ${c.hint}: token_type ${c.type}`);
  }
});

t.test("a missing or empty token parameter is invalid_request (400)", async (t) => {
  const test = await buildTestApp(t);
  const { client } = await setup(test);
  expectError(t, test, await introspect(test, {}), "invalid_request", 400);
  expectError(t, test, await introspect(test, { token_type_hint: "access_token" }, { client }), "invalid_request", 400);
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  expectError(t, test, await introspect(test, { token: "" }), "invalid_request", 400);
});
