// Client authentication at /oauth/token (RFC 6749 §2.3): client_secret_basic,
// client_secret_post, public clients, their misuse, and secret rotation/expiry.
import t from "tap";
import { buildApp } from "../../src/main/app.js";
import { generateCredential } from "../../src/crypto/tokens.js";
import { s256 } from "../../src/oauth/pkce.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import {
  basic,
  type ClientCredentials,
  directCode,
  exchange,
  expectError,
  expectTokens,
  newClient,
  newInstallation,
  refresh,
  remember,
  tokenRequest,
} from "../support/oauth-helper.js";

/** Every character percent-encoded: valid application/x-www-form-urlencoded for any value. */
const percentEncodeAll = (value: string) => [...Buffer.from(value)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("");

const basicHeader = (credentials: string) => `Basic ${Buffer.from(credentials).toString("base64")}`;

async function twoClients(test: TestApp) {
  const client = await newClient(test);
  const other = await newClient(test);
  return { client, other };
}

t.test("authenticates a confidential client by HTTP Basic or by client_secret_post", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const header = (authorization: string) => ({ headers: { authorization } });
  const cases: { name: string; options: Parameters<typeof tokenRequest>[2]; extra?: Record<string, string> }[] = [
    { name: "client_secret_basic", options: { client, auth: "basic" } },
    { name: "client_secret_post", options: { client, auth: "post" } },
    { name: "client_secret_post in JSON", options: { client, auth: "post", contentType: "json" } },
    { name: "HTTP Basic, every character percent-encoded", options: header(basic(client.client_id, client.client_secret!, percentEncodeAll)) },
    { name: "HTTP Basic, encodeURIComponent", options: header(basic(client.client_id, client.client_secret!, encodeURIComponent)) },
    { name: "HTTP Basic, lower-case scheme", options: header(basic(client.client_id, client.client_secret!).replace(/^Basic/, "basic")) },
    { name: "HTTP Basic plus the same client_id in the body", options: { client, auth: "basic" }, extra: { client_id: client.client_id } },
  ];
  for (const c of cases) {
    const installation = await newInstallation(test, client);
    const res = await tokenRequest(test, { grant_type: "authorization_code", code: installation.code, ...c.extra }, c.options);
    t.equal(res.statusCode, 200, `${c.name} (${res.statusCode === 200 ? "ok" : res.body})`);
    if (res.statusCode !== 200) continue;
    remember(test, res.json().access_token, res.json().refresh_token);
    const refreshed = await tokenRequest(test, { grant_type: "refresh_token", refresh_token: res.json().refresh_token, ...c.extra }, c.options);
    t.equal(refreshed.statusCode, 200, `${c.name}: the refresh authenticates the same client`);
    remember(test, refreshed.json().access_token, refreshed.json().refresh_token);
  }
});

t.test("refuses misused client authentication as invalid_client, and spends nothing", async (t) => {
  // Throttling of repeated failures (test/http/rate-limit.test.ts) would turn the later cases into 429s.
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_AUTH_FAILURES: "0" });
  const { client, other } = await twoClients(test);
  const installation = await newInstallation(test, client);
  const code = { grant_type: "authorization_code", code: installation.code };
  const wrongSecret = generateCredential("clientSecret");
  remember(test, wrongSecret);
  const auth = (id: string, secret: string) => ({ headers: { authorization: basic(id, secret) }, auth: "none" as const });
  const cases: {
    name: string;
    params: Record<string, string>;
    options?: Parameters<typeof tokenRequest>[2];
    /** The WWW-Authenticate scheme expected: the one the client used (RFC 6749 §5.2), none without an Authorization header. */
    header: "Basic" | "Bearer" | false;
  }[] = [
    {
      name: "both Basic and client_secret_post",
      params: { ...code, client_secret: client.client_secret! },
      options: { client, auth: "basic" },
      header: "Basic",
    },
    {
      name: "both, client_secret_post with a different secret",
      params: { ...code, client_id: client.client_id, client_secret: wrongSecret },
      options: { client, auth: "basic" },
      header: "Basic",
    },
    { name: "no authentication at all", params: code, header: false },
    { name: "client_id only, for a confidential client", params: code, options: { client, auth: "none" }, header: false },
    { name: "wrong secret over Basic", params: code, options: auth(client.client_id, wrongSecret), header: "Basic" },
    { name: "wrong secret by client_secret_post", params: { ...code, client_id: client.client_id, client_secret: wrongSecret }, header: false },
    { name: "a malformed secret by client_secret_post", params: { ...code, client_id: client.client_id, client_secret: "hunter2" }, header: false },
    { name: "another client's secret", params: code, options: auth(client.client_id, other.client_secret!), header: "Basic" },
    { name: "unknown client_id over Basic", params: code, options: auth("no-such-client", client.client_secret!), header: "Basic" },
    {
      name: "unknown client_id by client_secret_post",
      params: { ...code, client_id: "no-such-client", client_secret: client.client_secret! },
      header: false,
    },
    {
      name: "client_id in the body differs from the Basic one",
      params: { ...code, client_id: other.client_id },
      options: { client, auth: "basic" },
      header: "Basic",
    },
    { name: "Basic with an empty secret", params: code, options: auth(client.client_id, ""), header: "Basic" },
    {
      name: "Basic without a colon",
      params: code,
      options: { headers: { authorization: basicHeader(`${client.client_id}${client.client_secret}`) } },
      header: "Basic",
    },
    {
      name: "Basic with a malformed percent-escape",
      params: code,
      options: { headers: { authorization: basicHeader(`${client.client_id}%zz:${client.client_secret}`) } },
      header: "Basic",
    },
    {
      name: "Basic with a secret that is not form-decoded as sent",
      params: code,
      options: { headers: { authorization: basicHeader(`${client.client_id}:${client.client_secret}%`) } },
      header: "Basic",
    },
    { name: "Basic that is not base64", params: code, options: { headers: { authorization: "Basic !!!not-base64!!!" } }, header: "Basic" },
    { name: "Bearer instead of Basic", params: code, options: { headers: { authorization: `Bearer ${client.client_secret}` } }, header: "Bearer" },
    {
      name: "Bearer plus client_secret_post",
      params: { ...code, client_id: client.client_id, client_secret: client.client_secret! },
      options: { headers: { authorization: "Bearer something" } },
      header: "Bearer",
    },
  ];
  for (const c of cases) {
    const res = await tokenRequest(test, c.params, c.options);
    t.test(c.name, async (t) => {
      expectError(t, test, res, "invalid_client", 401, [wrongSecret]);
      if (c.header)
        t.match(res.headers["www-authenticate"], new RegExp(`^${c.header}\\b`), `WWW-Authenticate: ${c.header}, the scheme the client used`);
      else t.equal(res.headers["www-authenticate"], undefined, "no WWW-Authenticate without an Authorization header");
    });
  }
  expectTokens(t, await exchange(test, client, installation.code), { installation_id: installation.id });
  t.pass("after all that, the code is still exchangeable by its client");
  t.equal(await test.app.domain.db.token.count(), 1, "and only that exchange issued tokens");
});

t.test("a rotated-out secret stops authenticating at once, though it was verified before", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const first: ClientCredentials = { client_id: client.client_id, client_secret: client.client_secret };
  const added = await test.admin("POST", `/admin/v1/applications/${client.id}/secrets`, {});
  t.equal(added.statusCode, 201);
  const second: ClientCredentials = { client_id: client.client_id, client_secret: added.json().client_secret };
  remember(test, second.client_secret);
  t.not(second.client_secret, first.client_secret);

  const installation = await newInstallation(test, client);
  const tokens = expectTokens(t, await exchange(test, first, installation.code));
  const byPost = expectTokens(t, await refresh(test, first, tokens.refresh_token, {}, { auth: "post" }));
  const bySecond = expectTokens(t, await refresh(test, second, byPost.refresh_token));
  t.pass("both secrets authenticate while both exist");

  const list = await test.admin("GET", `/admin/v1/applications/${client.id}/secrets`);
  const firstId = (list.json().items as { id: string }[]).find((item) => item.id !== added.json().id)!.id;
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${client.id}/secrets/${firstId}`)).statusCode, 204);

  const basicRes = await refresh(test, first, bySecond.refresh_token);
  expectError(t, test, basicRes, "invalid_client", 401);
  t.match(basicRes.headers["www-authenticate"], /^Basic\b/);
  expectError(t, test, await refresh(test, first, bySecond.refresh_token, {}, { auth: "post" }), "invalid_client", 401);
  expectTokens(t, await refresh(test, second, bySecond.refresh_token));
  t.pass("the remaining secret still works, and the refused requests did not spend the refresh token");
});

t.test("a secret deleted through another server process stops authenticating in this one", async (t) => {
  const test = await buildTestApp(t);
  const other = await buildApp({ config: test.config, clock: test.clock });
  t.teardown(() => other.close());
  const client = await newClient(test);
  const added = await test.admin("POST", `/admin/v1/applications/${client.id}/secrets`, {});
  const second: ClientCredentials = { client_id: client.client_id, client_secret: added.json().client_secret };
  remember(test, second.client_secret);
  const installation = await newInstallation(test, client);
  const tokens = expectTokens(t, await exchange(test, client, installation.code));
  const firstId = (await test.admin("GET", `/admin/v1/applications/${client.id}/secrets`))
    .json()
    .items.find((item: { id: string }) => item.id !== added.json().id).id;
  const deleted = await other.inject({
    method: "DELETE",
    url: `/admin/v1/applications/${client.id}/secrets/${firstId}`,
    headers: { authorization: `Bearer ${test.config.adminToken}` },
  });
  t.equal(deleted.statusCode, 204, "deleted by the other process");
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_client", 401);
  expectTokens(t, await refresh(test, second, tokens.refresh_token));
});

t.test("an expired secret stops authenticating", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const expiresAt = new Date(test.clock().getTime() + 3600_000);
  const added = await test.admin("POST", `/admin/v1/applications/${client.id}/secrets`, { expires_at: expiresAt.toISOString() });
  t.equal(added.statusCode, 201);
  const expiring: ClientCredentials = { client_id: client.client_id, client_secret: added.json().client_secret };
  remember(test, expiring.client_secret);

  const installation = await newInstallation(test, client);
  const tokens = expectTokens(t, await exchange(test, expiring, installation.code));
  test.clock.advance(3599);
  const before = expectTokens(t, await refresh(test, expiring, tokens.refresh_token, {}, { auth: "post" }));
  t.pass("it authenticates until it expires");
  test.clock.advance(1);
  expectError(t, test, await refresh(test, expiring, before.refresh_token), "invalid_client", 401);
  expectError(t, test, await refresh(test, expiring, before.refresh_token, {}, { auth: "post" }), "invalid_client", 401);
  test.clock.advance(86_400);
  expectError(t, test, await refresh(test, expiring, before.refresh_token), "invalid_client", 401);
  expectTokens(t, await refresh(test, client, before.refresh_token));
  t.pass("the application's other secret is unaffected");
});

t.test("a public client identifies itself by client_id alone, and may not send a secret", async (t) => {
  const test = await buildTestApp(t);
  const pub = await newClient(test, { client_type: "public" });
  t.equal(pub.client_secret, null, "a public client has no secret");
  const confidential = await newClient(test);
  const installation = await newInstallation(test, pub);
  // The installation's own code has no PKCE challenge: a public client may not exchange it.
  expectError(t, test, await exchange(test, pub, installation.code), "invalid_grant", 400);
  const verifier = "v".repeat(43);
  const pkceCode = await directCode(test, installation.id, { codeChallenge: s256(verifier), codeChallengeMethod: "S256" });
  const code = { grant_type: "authorization_code", code: pkceCode, code_verifier: verifier };
  const fakeSecret = generateCredential("clientSecret");
  remember(test, fakeSecret);
  const refused: { name: string; params: Record<string, string>; headers?: Record<string, string> }[] = [
    { name: "client_secret_post", params: { ...code, client_id: pub.client_id, client_secret: fakeSecret } },
    { name: "HTTP Basic with a secret", params: code, headers: { authorization: basic(pub.client_id, fakeSecret) } },
    { name: "another client's secret", params: { ...code, client_id: pub.client_id, client_secret: confidential.client_secret! } },
    { name: "no client_id", params: code },
  ];
  for (const c of refused) {
    expectError(t, test, await tokenRequest(test, c.params, c.headers ? { headers: c.headers } : {}), "invalid_client", 401, [fakeSecret]);
  }
  const tokens = expectTokens(t, await exchange(test, pub, pkceCode, { code_verifier: verifier }), { installation_id: installation.id });
  t.pass("client_id alone exchanges a PKCE-bound code");
  const refreshed = expectTokens(t, await refresh(test, pub, tokens.refresh_token));
  expectError(
    t,
    test,
    await refresh(test, { ...pub, client_secret: fakeSecret }, refreshed.refresh_token, {}, { auth: "post" }),
    "invalid_client",
    401,
    [fakeSecret],
  );
  expectTokens(t, await refresh(test, pub, refreshed.refresh_token, {}, { headers: { authorization: basic(pub.client_id, "") } }));
  t.pass("HTTP Basic with the client_id and an empty password identifies a public client too");
});

t.test("a deleted application cannot authenticate", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${client.id}`)).statusCode, 204);
  expectError(t, test, await exchange(test, client, installation.code), "invalid_client", 401);
  expectError(t, test, await exchange(test, client, installation.code, {}, { auth: "post" }), "invalid_client", 401);
});
