// RFC 8414 metadata: every field present, every value derived from the grant
// registry, the routes and the configuration, and every advertised capability
// actually honoured by the endpoint it describes (the device flow only once configured).
import type { Response as InjectResponse } from "light-my-request";
import t from "tap";
import { GRANT_TYPES } from "../../src/main/app.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { ADMIN_TOKEN, buildTestApp, createApp, type TestApp } from "../support/helper.js";
import { type AppKey, assertionParams, clientAssertion, registerKey, unregisteredKey } from "../support/app-keys.js";

const WELL_KNOWN = "/.well-known/oauth-authorization-server";

interface Metadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  device_authorization_endpoint: string;
  revocation_endpoint: string;
  introspection_endpoint: string;
  response_types_supported: string[];
  response_modes_supported: string[];
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_signing_alg_values_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_signing_alg_values_supported: string[];
  code_challenge_methods_supported: string[];
  scopes_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
}

const FIELDS: (keyof Metadata)[] = [
  "issuer",
  "authorization_endpoint",
  "token_endpoint",
  "revocation_endpoint",
  "introspection_endpoint",
  "device_authorization_endpoint",
  "response_types_supported",
  "response_modes_supported",
  "grant_types_supported",
  "token_endpoint_auth_methods_supported",
  "token_endpoint_auth_signing_alg_values_supported",
  "revocation_endpoint_auth_methods_supported",
  "revocation_endpoint_auth_signing_alg_values_supported",
  "introspection_endpoint_auth_methods_supported",
  "introspection_endpoint_auth_signing_alg_values_supported",
  "code_challenge_methods_supported",
  "scopes_supported",
  "authorization_response_iss_parameter_supported",
];

async function metadata(test: TestApp): Promise<Metadata> {
  const res = await test.app.inject({ method: "GET", url: WELL_KNOWN });
  if (res.statusCode !== 200) throw new Error(`discovery answered ${res.statusCode} ${res.body}`);
  return res.json();
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

type Client = { client_id: string; client_secret: string | null; key?: AppKey };

/**
 * POST to an OAuth endpoint, authenticated as `client` with `method` (client_secret_basic,
 * client_secret_post, private_key_jwt with the client's key, or none).
 */
async function authenticatedPost(
  test: TestApp,
  url: string,
  method: string,
  client: Client,
  params: Record<string, string>,
): Promise<InjectResponse> {
  const body = { ...params };
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (method === "client_secret_basic") headers.authorization = basic(client.client_id, client.client_secret ?? "");
  else if (method === "client_secret_post") Object.assign(body, { client_id: client.client_id, client_secret: client.client_secret ?? "" });
  else if (method === "private_key_jwt") Object.assign(body, assertionParams(await clientAssertion(test, client.key!, client.client_id)));
  else if (method === "none") body.client_id = client.client_id;
  else throw new Error(`no way to authenticate with ${method}`);
  return test.app.inject({ method: "POST", url, headers, payload: form(body) });
}

/** A confidential client for the secret- and key-based methods (with a registered key), a public one for "none". */
async function clientFor(test: TestApp, method: string): Promise<Client> {
  const created = await createApp(test, { name: `App using ${method}`, ...(method === "none" ? { client_type: "public" } : {}) });
  return method === "private_key_jwt" ? { ...created, key: await registerKey(test, created.id) } : created;
}

const DEVICE_VERIFICATION_URL = "https://platform.example/device";

t.test("discovery answers JSON with every RFC 8414 field this server supports", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_ISSUER: "https://auth.example", APPGRANT_DEVICE_VERIFICATION_URL: DEVICE_VERIFICATION_URL });
  const res = await test.app.inject({ method: "GET", url: WELL_KNOWN });
  t.equal(res.statusCode, 200);
  t.match(res.headers["content-type"], /^application\/json/);
  const body = res.json() as Metadata;
  t.same(Object.keys(body).sort(), [...FIELDS].sort(), "exactly the documented fields, none missing");
  t.equal(body.issuer, "https://auth.example");
  t.same(body.response_types_supported, ["code"]);
  t.same(body.response_modes_supported, ["query"]);
  t.same(body.code_challenge_methods_supported, ["S256"], "S256 only: plain is not offered (RFC 9700 §2.1.1)");
  t.equal(body.authorization_response_iss_parameter_supported, true, "iss is sent in authorization responses (RFC 9207)");
});

t.test("the device flow is advertised only when it is configured (APPGRANT_DEVICE_VERIFICATION_URL)", async (t) => {
  const configured = await metadata(
    await buildTestApp(t, { APPGRANT_ISSUER: "https://auth.example", APPGRANT_DEVICE_VERIFICATION_URL: DEVICE_VERIFICATION_URL }),
  );
  t.equal(configured.device_authorization_endpoint, "https://auth.example/oauth/device_authorization");
  t.ok(configured.grant_types_supported.includes(DEVICE_CODE_GRANT), "and its grant type");

  // Unconfigured, /oauth/device_authorization answers 503: a client library that found it
  // would start a flow that cannot work, so neither the endpoint nor the grant is listed.
  const test = await buildTestApp(t, { APPGRANT_ISSUER: "https://auth.example" });
  const unconfigured = await metadata(test);
  t.notOk("device_authorization_endpoint" in unconfigured, "no device_authorization_endpoint");
  t.notOk(unconfigured.grant_types_supported.includes(DEVICE_CODE_GRANT), "no device grant");
  t.same(Object.keys(unconfigured).sort(), FIELDS.filter((field) => field !== "device_authorization_endpoint").sort(), "every other field");
  const client = await createApp(test, { client_type: "public", grant_types: [DEVICE_CODE_GRANT] });
  const started = await test.app.inject({
    method: "POST",
    url: "/oauth/device_authorization",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: form({ client_id: client.client_id }),
  });
  t.equal(started.statusCode, 503, "what a client would have got");
});

t.test("grant_types_supported is the grant registry of the token endpoint", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_DEVICE_VERIFICATION_URL: DEVICE_VERIFICATION_URL });
  const body = await metadata(test);
  t.same([...body.grant_types_supported].sort(), GRANT_TYPES.map((grant) => grant.name).sort());
  t.ok(body.grant_types_supported.includes("authorization_code") && body.grant_types_supported.includes("refresh_token"));

  // Every advertised grant type is one the token endpoint dispatches (it gets past
  // the unsupported_grant_type check), and one it does not know is refused.
  for (const grantType of body.grant_types_supported) {
    const res = await test.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: form({ grant_type: grantType }),
    });
    t.not(res.json().error, "unsupported_grant_type", `${grantType} is served by /oauth/token`);
  }
  const unknown = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: form({ grant_type: "password" }),
  });
  t.notOk(body.grant_types_supported.includes("password"));
  t.equal(unknown.json().error, "unsupported_grant_type", "a grant type not advertised is not served");
});

const issuers: { name: string; env: Record<string, string>; issuer: string }[] = [
  { name: "no APPGRANT_ISSUER: http://localhost:<PORT>", env: { PORT: "4123" }, issuer: "http://localhost:4123" },
  { name: "APPGRANT_ISSUER https://auth.example", env: { APPGRANT_ISSUER: "https://auth.example" }, issuer: "https://auth.example" },
  { name: "a trailing slash is dropped", env: { APPGRANT_ISSUER: "https://auth.example/" }, issuer: "https://auth.example" },
  { name: "http on 127.0.0.1 with a port", env: { APPGRANT_ISSUER: "http://127.0.0.1:8443" }, issuer: "http://127.0.0.1:8443" },
];

for (const c of issuers) {
  t.test(`endpoints follow the issuer (${c.name})`, async (t) => {
    const test = await buildTestApp(t, { ...c.env, APPGRANT_DEVICE_VERIFICATION_URL: DEVICE_VERIFICATION_URL });
    const body = await metadata(test);
    t.equal(body.issuer, c.issuer);
    t.equal(body.issuer, test.config.issuer, "the issuer is the configured one");
    const endpoints = {
      authorization_endpoint: "/oauth/authorize",
      token_endpoint: "/oauth/token",
      revocation_endpoint: "/oauth/revoke",
      introspection_endpoint: "/oauth/introspect",
      device_authorization_endpoint: "/oauth/device_authorization",
    } as const;
    for (const [field, path] of Object.entries(endpoints) as [keyof typeof endpoints, string][]) {
      t.equal(body[field], `${c.issuer}${path}`, `${field} is the issuer + ${path}`);
    }
  });
}

t.test("every advertised endpoint is a route of this server", async (t) => {
  const test = await buildTestApp(t, {
    APPGRANT_ISSUER: "https://auth.example",
    APPGRANT_CONSENT_URL: "https://platform.example/consent",
    APPGRANT_DEVICE_VERIFICATION_URL: DEVICE_VERIFICATION_URL,
  });
  const body = await metadata(test);
  const path = (url: string) => new URL(url).pathname;
  const client = await createApp(test);

  const authorize = await test.app.inject({
    method: "GET",
    url: `${path(body.authorization_endpoint)}?${form({ client_id: client.client_id, response_type: "code" })}`,
  });
  t.equal(authorize.statusCode, 302, "authorization_endpoint starts an authorization");
  const empty = (field: "token_endpoint" | "revocation_endpoint" | "introspection_endpoint" | "device_authorization_endpoint") =>
    test.app.inject({
      method: "POST",
      url: path(body[field]),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: form({}),
    });
  for (const field of ["token_endpoint", "revocation_endpoint", "introspection_endpoint"] as const) {
    const res = await empty(field);
    t.equal(res.statusCode, 400, `${field} answers an empty request with an OAuth error, not 404`);
    t.equal(res.json().error, "invalid_request");
  }
  // The device authorization endpoint authenticates the client first (RFC 8628 §3.1).
  const device = await empty("device_authorization_endpoint");
  t.equal(device.statusCode, 401, "device_authorization_endpoint answers an empty request with an OAuth error, not 404");
  t.equal(device.json().error, "invalid_client");
});

t.test("scopes_supported is APPGRANT_SCOPES when set, regardless of the applications", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_SCOPES: "repo:read  repo:write\tadmin" });
  await createApp(test, { scopes: ["billing"] });
  t.same((await metadata(test)).scopes_supported, ["repo:read", "repo:write", "admin"]);
});

t.test("without APPGRANT_SCOPES, scopes_supported is the union of the applications' scopes, kept current", async (t) => {
  const test = await buildTestApp(t);
  t.same((await metadata(test)).scopes_supported, [], "no applications: no scopes");
  await createApp(test, { name: "A", scopes: ["read", "write"] });
  await createApp(test, { name: "B", scopes: ["write", "billing:read"] });
  t.same([...(await metadata(test)).scopes_supported].sort(), ["billing:read", "read", "write"], "each scope once");

  // A scope added to an application later appears without a restart.
  const list = await test.admin("GET", "/admin/v1/applications");
  const a = (list.json().items as { id: string; name: string }[]).find((app) => app.name === "A")!;
  const patched = await test.admin("PATCH", `/admin/v1/applications/${a.id}`, { scopes: ["read", "write", "deploy"] });
  t.equal(patched.statusCode, 200, patched.body);
  t.same([...(await metadata(test)).scopes_supported].sort(), ["billing:read", "deploy", "read", "write"]);
});

t.test("each advertised token endpoint auth method authenticates a client", async (t) => {
  const test = await buildTestApp(t);
  const { token_endpoint_auth_methods_supported: methods } = await metadata(test);
  t.same([...methods].sort(), ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]);
  for (const method of methods) {
    const client = await clientFor(test, method);
    // Authentication passes, so the answer is about the (unknown) refresh token.
    const res = await authenticatedPost(test, "/oauth/token", method, client, { grant_type: "refresh_token", refresh_token: "agr_unknown" });
    t.equal(res.json().error, "invalid_grant", `${method}: authenticated, the token is what is refused`);
    // The same request with a wrong secret fails authentication, so the check above is meaningful.
    if (method !== "none") {
      const wrong = await authenticatedPost(
        test,
        "/oauth/token",
        method,
        { ...client, client_secret: "wrong", ...(client.key ? { key: await unregisteredKey() } : {}) },
        {
          grant_type: "refresh_token",
          refresh_token: "agr_unknown",
        },
      );
      t.equal(wrong.json().error, "invalid_client", `${method}: a wrong secret (or key) is refused`);
    }
  }
});

t.test("each advertised revocation auth method authenticates a client", async (t) => {
  const test = await buildTestApp(t);
  const { revocation_endpoint_auth_methods_supported: methods } = await metadata(test);
  t.ok(methods.length > 0);
  for (const method of methods) {
    const client = await clientFor(test, method);
    const res = await authenticatedPost(test, "/oauth/revoke", method, client, { token: "agr_unknown" });
    t.equal(res.statusCode, 200, `${method}: revocation accepted (${res.body})`);
  }
});

t.test("introspection accepts the advertised auth methods and the admin bearer, and refuses an unadvertised one", async (t) => {
  const test = await buildTestApp(t);
  const { introspection_endpoint_auth_methods_supported: methods } = await metadata(test);
  t.same([...methods].sort(), ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
  for (const method of methods) {
    const client = await clientFor(test, method);
    const res = await authenticatedPost(test, "/oauth/introspect", method, client, { token: "aga_unknown" });
    t.equal(res.statusCode, 200, `${method}: ${res.body}`);
    t.same(res.json(), { active: false });
  }
  const bearer = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: form({ token: "aga_unknown" }),
  });
  t.equal(bearer.statusCode, 200, "a resource server presents the admin token");

  // "none" is not advertised for introspection (RFC 7662 §2.1 requires the caller to
  // be authorised): a client_id alone must not be able to ask about tokens.
  t.notOk(methods.includes("none"));
  const publicClient = await clientFor(test, "none");
  const none = await authenticatedPost(test, "/oauth/introspect", "none", publicClient, { token: "aga_unknown" });
  t.equal(none.statusCode, 401, `client_id alone is refused at introspection (${none.statusCode} ${none.body})`);
  t.equal(none.json().error, "invalid_client");
});
