// Apps acting as themselves (issue 11): private_key_jwt client authentication (RFC 7523
// §2.2) with the application's registered keys, and installation access tokens minted
// with grant_type=client_credentials: what they carry, what introspection and
// revocation make of them, every refusal of an assertion (and that a refusal issues
// nothing), and the grant_types an application may be given.
import { importPKCS8, SignJWT } from "jose";
import t, { type Test } from "tap";
import { createApplication } from "../../src/domain/applications.js";
import type { OfferedGrantType } from "../../src/domain/context.js";
import { buildApp, GRANT_TYPES } from "../../src/main/app.js";
import { clientCredentials } from "../../src/oauth/grants/client-credentials.js";
import { GRANT_TYPE_OFFERS } from "../../src/oauth/grants/index.js";
import { parseList } from "../../src/shared/scopes.js";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { type AppKey, assertionParams, clientAssertion, registerKey, unregisteredKey } from "../support/app-keys.js";
import { formBody, tokenRequest } from "../support/oauth-helper.js";

const ALL_GRANTS = ["authorization_code", "refresh_token", "client_credentials"];

interface Setup {
  test: TestApp;
  app: { id: string; client_id: string; client_secret: string | null };
  key: AppKey;
  installationId: string;
}

async function setup(t: Test, test?: TestApp): Promise<Setup> {
  test ??= await buildTestApp(t);
  const app = (await createApp(test, { grant_types: ALL_GRANTS, scopes: ["read", "write"] })) as Setup["app"];
  const key = await registerKey(test, app.id);
  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read", "write"] });
  return { test, app, key, installationId: installed.id };
}

function post(test: TestApp, url: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return test.app.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: formBody(params),
  });
}

async function mint(s: Setup, extra: Record<string, string> = {}, assertion?: string) {
  return post(s.test, "/oauth/token", {
    grant_type: "client_credentials",
    installation_id: s.installationId,
    ...assertionParams(assertion ?? (await clientAssertion(s.test, s.key, s.app.client_id))),
    ...extra,
  });
}

const introspect = (test: TestApp, token: string) =>
  post(test, "/oauth/introspect", { token }, { authorization: `Bearer ${ADMIN_TOKEN}` }).then((res) => res.json() as Record<string, unknown>);

const tokenCount = (test: TestApp) => test.app.domain.db.token.count();

t.test("private_key_jwt + client_credentials: an installation token, no refresh token, introspected and revoked", async (t) => {
  const s = await setup(t);
  const res = await mint(s);
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers["cache-control"], "no-store");
  const body = res.json() as Record<string, unknown>;
  t.match(body.access_token, /^agi_[0-9A-Za-z]{71}$/, "a typed agi_ token");
  t.same(
    { ...body, access_token: "…" },
    { access_token: "…", token_type: "Bearer", expires_in: 3600, scope: "read write", installation_id: s.installationId },
    "no refresh token",
  );
  const row = await s.test.app.domain.db.token.findFirstOrThrow({ where: { installationId: s.installationId } });
  t.equal(row.refreshTokenHash, null, "stored without a refresh token");
  t.not(row.accessTokenHash, body.access_token, "only a hash at rest");

  const described = await introspect(s.test, body.access_token as string);
  t.match(described, {
    active: true,
    client_id: s.app.client_id,
    installation_id: s.installationId,
    account: "acme",
    scope: "read write",
    token_type: "Bearer",
    exp: Math.floor(s.test.clock().getTime() / 1000) + 3600,
  });

  // The app revokes it, authenticating with a fresh assertion (RFC 7009 accepts the same client authentication).
  const revoked = await post(s.test, "/oauth/revoke", {
    token: body.access_token as string,
    ...assertionParams(await clientAssertion(s.test, s.key, s.app.client_id)),
  });
  t.equal(revoked.statusCode, 200, revoked.body);
  t.same(await introspect(s.test, body.access_token as string), { active: false }, "revoked");

  s.test.clock.advance(3600);
  const again = (await mint(s)).json() as { access_token: string };
  t.equal((await introspect(s.test, again.access_token)).active, true);
  s.test.clock.advance(3601);
  t.same(await introspect(s.test, again.access_token), { active: false }, "expired after an hour");
});

t.test("scope narrows the token; a wider scope is invalid_scope; a client secret authenticates too", async (t) => {
  const s = await setup(t);
  const narrowed = await mint(s, { scope: "read" });
  t.equal(narrowed.statusCode, 200);
  t.equal(narrowed.json().scope, "read");
  const wider = await mint(s, { scope: "read admin" });
  t.equal(wider.statusCode, 400);
  t.equal(wider.json().error, "invalid_scope");
  const withSecret = await tokenRequest(
    s.test,
    { grant_type: "client_credentials", installation_id: s.installationId },
    { client: { client_id: s.app.client_id, client_secret: s.app.client_secret } },
  );
  t.equal(withSecret.statusCode, 200, "client_secret_basic");
  t.match(withSecret.json().access_token, /^agi_/);
  const missing = await post(s.test, "/oauth/token", {
    grant_type: "client_credentials",
    ...assertionParams(await clientAssertion(s.test, s.key, s.app.client_id)),
  });
  t.equal(missing.statusCode, 400);
  t.same(missing.json(), { error: "invalid_request", error_description: "installation_id is required" });
});

t.test("aud: the issuer or the token endpoint URL discovery advertises, alone or in a list; no aud is refused", async (t) => {
  const s = await setup(t);
  const metadata = (await s.test.app.inject({ method: "GET", url: "/.well-known/oauth-authorization-server" })).json() as {
    issuer: string;
    token_endpoint: string;
  };
  t.equal(metadata.token_endpoint, `${s.test.config.issuer}/oauth/token`);
  const withAud = (aud: unknown) => clientAssertion(s.test, s.key, s.app.client_id, { claims: { aud } });
  for (const aud of [metadata.issuer, metadata.token_endpoint, [metadata.token_endpoint], ["https://elsewhere.example", metadata.token_endpoint]]) {
    const res = await mint(s, {}, await withAud(aud));
    t.equal(res.statusCode, 200, `aud ${JSON.stringify(aud)}: ${res.body}`);
    t.match(res.json().access_token, /^agi_/);
  }
  for (const aud of [`${metadata.issuer}/oauth/introspect`, `${metadata.token_endpoint}/`, "https://elsewhere.example/oauth/token"]) {
    const res = await mint(s, {}, await withAud(aud));
    t.equal(res.statusCode, 401, `aud ${aud}`);
    t.match(res.json(), { error: "invalid_client", error_description: /aud must be the issuer or the token endpoint URL/ });
  }
  const before = await tokenCount(s.test);
  const none = await mint(s, {}, await withAud(undefined));
  t.equal(none.statusCode, 401, "no aud");
  t.same(none.json(), { error: "invalid_client", error_description: "client assertion refused: the assertion needs an aud claim" });
  t.equal(await tokenCount(s.test), before, "nothing issued");
});

t.test("APPGRANT_INSTALLATION_TOKEN_LIFETIME: expires_in, the introspected exp, and when the token stops working", async (t) => {
  const s = await setup(t, await buildTestApp(t, { APPGRANT_INSTALLATION_TOKEN_LIFETIME: "900" }));
  const res = await mint(s);
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().expires_in, 900);
  const token = res.json().access_token as string;
  t.match(await introspect(s.test, token), { active: true, exp: Math.floor(s.test.clock().getTime() / 1000) + 900 });
  const withSecret = await tokenRequest(
    s.test,
    { grant_type: "client_credentials", installation_id: s.installationId },
    { client: { client_id: s.app.client_id, client_secret: s.app.client_secret } },
  );
  t.equal(withSecret.json().expires_in, 900, "whatever the client authentication");
  s.test.clock.advance(899);
  t.equal((await introspect(s.test, token)).active, true, "alive at 899 s");
  s.test.clock.advance(2);
  t.same(await introspect(s.test, token), { active: false }, "expired at 901 s");
});

t.test("a key deleted through the admin API stops its assertions at once in every instance; tokens it minted stay active", async (t) => {
  const s = await setup(t);
  const second = await buildApp({ config: s.test.config, clock: s.test.clock });
  t.teardown(() => second.close());
  const generated = (await s.test.admin("POST", `/admin/v1/applications/${s.app.id}/keys`, {})).json() as {
    id: string;
    kid: string;
    alg: string;
    private_key: string;
    public_jwk: Record<string, unknown>;
  };
  const doomed: AppKey = {
    id: generated.id,
    kid: generated.kid,
    alg: generated.alg,
    privateKey: await importPKCS8(generated.private_key, generated.alg),
    publicJwk: generated.public_jwk,
  };
  const instances = [
    ["the instance that deletes it", s.test.app],
    ["a second instance", second],
  ] as const;
  const mintOn = async (app: typeof second, key: AppKey, header: Record<string, unknown> = {}) =>
    app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: formBody({
        grant_type: "client_credentials",
        installation_id: s.installationId,
        ...assertionParams(await clientAssertion(s.test, key, s.app.client_id, { header })),
      }),
    });
  const introspectOn = async (app: typeof second, token: string) =>
    (
      await app.inject({
        method: "POST",
        url: "/oauth/introspect",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${ADMIN_TOKEN}` },
        payload: formBody({ token }),
      })
    ).json() as Record<string, unknown>;

  // Each instance has used the key (with and without kid) before it is deleted: whatever it keeps in memory has seen it.
  const minted: string[] = [];
  for (const [name, app] of instances) {
    for (const header of [{}, { kid: undefined }]) {
      const res = await mintOn(app, doomed, header);
      t.equal(res.statusCode, 200, `${name}, before: ${res.body}`);
      minted.push(res.json().access_token);
    }
  }
  const deleted = await s.test.admin("DELETE", `/admin/v1/applications/${s.app.id}/keys/${doomed.id}`);
  t.equal(deleted.statusCode, 204, deleted.body);

  const before = await tokenCount(s.test);
  for (const [name, app] of instances) {
    const withKid = await mintOn(app, doomed);
    t.equal(withKid.statusCode, 401, `${name}: refused`);
    t.same(withKid.json(), { error: "invalid_client", error_description: "client assertion refused: no key of the client has the assertion's kid" });
    const withoutKid = await mintOn(app, doomed, { kid: undefined });
    t.equal(withoutKid.statusCode, 401, `${name}: refused without kid too (the remaining keys are tried)`);
    t.same(withoutKid.json(), {
      error: "invalid_client",
      error_description: "client assertion refused: the assertion's signature does not verify with the client's keys",
    });
    t.equal((await mintOn(app, s.key)).statusCode, 200, `${name}: the app's other key still works`);
    for (const token of minted) t.match(await introspectOn(app, token), { active: true }, `${name}: a token minted before the deletion is active`);
  }
  t.equal(await tokenCount(s.test), before + instances.length, "the refusals issued nothing");

  s.test.clock.advance(3601);
  for (const token of minted) t.same(await introspectOn(second, token), { active: false }, "…until it expires");
});

t.test("every refused assertion is invalid_client, says why without echoing, and issues nothing", async (t) => {
  const s = await setup(t);
  const now = Math.floor(s.test.clock().getTime() / 1000);
  const other = await unregisteredKey();
  const rsaKey = await registerKey(s.test, s.app.id, "RS256");
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${b64({ alg: "none" })}.${b64({ iss: s.app.client_id, sub: s.app.client_id, aud: s.test.config.issuer, exp: now + 60, jti: "x" })}.`;
  const hs256 = await new SignJWT({ iss: s.app.client_id, sub: s.app.client_id, aud: s.test.config.issuer, exp: now + 60, jti: "h" })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(s.app.client_secret!));
  const reused = await clientAssertion(s.test, s.key, s.app.client_id);
  t.equal((await mint(s, {}, reused)).statusCode, 200, "the first use of a jti is fine");
  const cases: [string, string | Promise<string>, RegExp][] = [
    ["expired", clientAssertion(s.test, s.key, s.app.client_id, { claims: { iat: now - 700, exp: now - 100 } }), /has expired/],
    ["iat in the future", clientAssertion(s.test, s.key, s.app.client_id, { claims: { iat: now + 120, exp: now + 300 } }), /iat is in the future/],
    ["lifetime over 10 minutes", clientAssertion(s.test, s.key, s.app.client_id, { claims: { exp: now + 601 } }), /at most 10 minutes/],
    [
      "lifetime over 10 minutes without iat",
      clientAssertion(s.test, s.key, s.app.client_id, { claims: { iat: undefined, exp: now + 900 } }),
      /at most 10 minutes/,
    ],
    ["wrong aud", clientAssertion(s.test, s.key, s.app.client_id, { claims: { aud: "https://elsewhere.example" } }), /aud must be/],
    ["reused jti", reused, /jti has already been used/],
    ["no jti", clientAssertion(s.test, s.key, s.app.client_id, { claims: { jti: undefined } }), /needs a jti/],
    ["no exp", clientAssertion(s.test, s.key, s.app.client_id, { claims: { exp: undefined } }), /needs an exp/],
    ["sub is not the client", clientAssertion(s.test, s.key, s.app.client_id, { claims: { sub: "someone-else" } }), /sub must be the client_id/],
    ["alg none", unsigned, /algorithm is not accepted/],
    ["HS256 with the client secret", hs256, /algorithm is not accepted/],
    ["unknown kid", clientAssertion(s.test, other, s.app.client_id), /no key of the client has the assertion's kid/],
    [
      "no kid, signed by a stranger's key",
      clientAssertion(s.test, other, s.app.client_id, { header: { kid: undefined } }),
      /signature does not verify/,
    ],
    ["a kid of the app, signed by another key", clientAssertion(s.test, { ...other, kid: s.key.kid }, s.app.client_id), /signature does not verify/],
    ["an alg the kid's key does not have", clientAssertion(s.test, { ...s.key, alg: "ES256", kid: rsaKey.kid }, s.app.client_id), /algorithm/],
    ["not a JWT", "not-a-jwt", /not a signed JWT/],
  ];
  const before = await tokenCount(s.test);
  for (const [name, assertion, reason] of cases) {
    const res = await mint(s, {}, await assertion);
    t.equal(res.statusCode, 401, `${name}: 401`);
    const body = res.json() as { error: string; error_description: string };
    t.equal(body.error, "invalid_client", `${name}: invalid_client`);
    t.match(body.error_description, reason, `${name}: ${body.error_description}`);
    t.notOk(body.error_description.includes("elsewhere") || body.error_description.includes("someone-else"), `${name}: nothing echoed`);
  }
  t.equal(await tokenCount(s.test), before, "no refused request issued a token");

  const mixed = await mint(s, { client_secret: s.app.client_secret! });
  t.equal(mixed.statusCode, 401, "an assertion and a secret together");
  const wrongType = await mint(s, { client_assertion_type: "urn:example:other" });
  t.equal(wrongType.statusCode, 401);
  t.match(wrongType.json().error_description, /client_assertion_type must be/);

  // A deleted key stops working at once: the keys are read on every authentication.
  const assertion = await clientAssertion(s.test, s.key, s.app.client_id);
  await s.test.app.domain.db.applicationKey.delete({ where: { id: s.key.id } });
  const deleted = await mint(s, {}, assertion);
  t.equal(deleted.statusCode, 401, "deleted key");
  t.match(deleted.json().error_description, /no key of the client has the assertion's kid/);
});

t.test("installations that are not the app's, or not active, and clients that may not mint", async (t) => {
  const s = await setup(t);
  const other = await setup(t, s.test);
  const foreign = await mint(s, { installation_id: other.installationId });
  t.equal(foreign.statusCode, 400);
  t.same(foreign.json(), { error: "invalid_grant", error_description: "installation_id is not an active installation of this client" });
  const unknown = await mint(s, { installation_id: "no-such-installation" });
  t.same(unknown.json(), foreign.json(), "an unknown installation is answered the same");

  const token = (await mint(s)).json().access_token as string;
  t.equal((await s.test.admin("DELETE", `/admin/v1/installations/${s.installationId}`)).statusCode, 204);
  t.same(await introspect(s.test, token), { active: false }, "uninstalling revokes the installation's tokens");
  const uninstalled = await mint(s);
  t.equal(uninstalled.json().error, "invalid_grant", "an uninstalled installation mints nothing");

  const otherToken = (await mint(other)).json().access_token as string;
  t.equal((await s.test.admin("DELETE", `/admin/v1/applications/${other.app.id}`)).statusCode, 204);
  t.same(await introspect(s.test, otherToken), { active: false }, "deleting the application revokes them");

  const plain = (await createApp(s.test, { scopes: ["read"] })) as Setup["app"];
  const plainKey = await registerKey(s.test, plain.id);
  const plainInstall = await install(s.test, plain.client_id, { account: "acme", scopes: ["read"] });
  const notAllowed = await post(s.test, "/oauth/token", {
    grant_type: "client_credentials",
    installation_id: plainInstall.id,
    ...assertionParams(await clientAssertion(s.test, plainKey, plain.client_id)),
  });
  t.equal(notAllowed.statusCode, 400);
  t.equal(notAllowed.json().error, "unauthorized_client", "client_credentials is not in its grant_types");

  const publicApp = (await createApp(s.test, { client_type: "public", scopes: ["read"] })) as Setup["app"];
  const publicKey = await registerKey(s.test, publicApp.id);
  const publicInstall = await install(s.test, publicApp.client_id, { account: "acme", scopes: ["read"] });
  const asPublic = await post(s.test, "/oauth/token", {
    grant_type: "client_credentials",
    installation_id: publicInstall.id,
    ...assertionParams(await clientAssertion(s.test, publicKey, publicApp.client_id)),
  });
  t.equal(asPublic.statusCode, 401, "a public client cannot authenticate with a key");
  const publicIdOnly = await post(s.test, "/oauth/token", {
    grant_type: "client_credentials",
    installation_id: publicInstall.id,
    client_id: publicApp.client_id,
  });
  t.equal(publicIdOnly.statusCode, 400);
  t.equal(publicIdOnly.json().error, "unauthorized_client");
});

t.test("grant_types: written through the admin API, validated against the registry, audited", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test, {});
  t.same(created.grant_types, ["authorization_code", "refresh_token"], "the default");
  const bad = [
    [{ grant_types: ["password"] }, /grant_types: must each be one of authorization_code, refresh_token, client_credentials/],
    [{ grant_types: [] }, /grant_types/],
    [{ grant_types: ["refresh_token", "refresh_token"] }, /listed twice/],
  ] as const;
  for (const [body, message] of bad) {
    const res = await test.admin("PATCH", `/admin/v1/applications/${created.id}`, body);
    t.equal(res.statusCode, 400, JSON.stringify(body));
    t.match(res.json().message ?? res.body, message);
  }
  const publicRes = await test.admin("POST", "/admin/v1/applications", {
    name: "CLI",
    redirect_uris: ["https://app.example/cb"],
    scopes: ["read"],
    client_type: "public",
    grant_types: ["client_credentials"],
  });
  t.equal(publicRes.statusCode, 400, "client_credentials is for confidential clients");
  const patched = await test.admin("PATCH", `/admin/v1/applications/${created.id}`, { grant_types: ALL_GRANTS });
  t.equal(patched.statusCode, 200);
  t.same(patched.json().grant_types, ALL_GRANTS);
  const event = await test.app.domain.db.event.findFirstOrThrow({ where: { type: "application.updated", applicationId: created.id } });
  t.same(JSON.parse(event.data), { changed: ["grant_types"], grant_types: ALL_GRANTS });

  const metadata = (await test.app.inject({ method: "GET", url: "/.well-known/oauth-authorization-server" })).json();
  t.ok(metadata.grant_types_supported.includes("client_credentials"));
  t.ok(metadata.token_endpoint_auth_methods_supported.includes("private_key_jwt"));
  t.same(metadata.token_endpoint_auth_signing_alg_values_supported, ["RS256", "PS256", "ES256", "EdDSA"]);
});

t.test("confidential-only is the grant module's rule: the domain applies what it is given, the route refuses a public client", async (t) => {
  const test = await buildTestApp(t);
  t.same(
    GRANT_TYPE_OFFERS,
    GRANT_TYPES.map((grant) => ({ name: grant.name, confidentialOnly: grant.name === "client_credentials" })),
    "the offers the domain gets are the registry's modules; client_credentials alone says confidentialOnly",
  );
  t.equal(clientCredentials.confidentialOnly, true);

  const publicApp = await createApp(test, { client_type: "public", scopes: ["read"] });
  const patched = await test.admin("PATCH", `/admin/v1/applications/${publicApp.id}`, { grant_types: ["authorization_code", "client_credentials"] });
  t.equal(patched.statusCode, 400, "PATCH refuses it for a public application, as POST does");
  t.match(patched.json(), { message: "grant_types: client_credentials is for confidential clients only" });

  // The domain holds no list of its own: it applies the offers it was handed.
  const input = { name: "X", redirectUris: ["https://app.example/cb"], scopes: ["read"], clientType: "public" as const };
  const withOffers = (grantTypes: OfferedGrantType[]) => ({ ...test.app.domain, config: { ...test.app.domain.config, grantTypes } });
  const strict = withOffers([
    { name: "authorization_code", confidentialOnly: false },
    { name: "urn:example:grant", confidentialOnly: true },
  ]);
  await t.rejects(createApplication(strict, { ...input, grantTypes: ["urn:example:grant"] }), /urn:example:grant is for confidential clients only/);
  const confidential = await createApplication(strict, { ...input, clientType: "confidential", grantTypes: ["urn:example:grant"] });
  t.same(parseList(confidential.application.grantTypes), ["urn:example:grant"], "a confidential application may list it");
  const lenient = withOffers([{ name: "client_credentials", confidentialOnly: false }]);
  const allowed = await createApplication(lenient, { ...input, grantTypes: ["client_credentials"] });
  t.equal(allowed.application.clientType, "public", "a grant that does not say confidentialOnly is open to public clients");

  // A public application that lists it anyway (written to the database behind the domain's
  // back): the token route refuses it before the grant runs.
  const installed = await install(test, publicApp.client_id, { account: "acme", scopes: ["read"] });
  await test.app.domain.db.application.update({ where: { id: publicApp.id }, data: { grantTypes: "authorization_code client_credentials" } });
  const refused = await post(test, "/oauth/token", {
    grant_type: "client_credentials",
    installation_id: installed.id,
    client_id: publicApp.client_id,
  });
  t.equal(refused.statusCode, 400);
  t.same(refused.json(), { error: "unauthorized_client", error_description: "client_credentials needs a confidential client that authenticates" });
});

t.test("a jti is single-use across two app instances on one database", async (t) => {
  const s = await setup(t);
  const second = await buildApp({ config: s.test.config, clock: s.test.clock });
  t.teardown(() => second.close());
  const assertion = await clientAssertion(s.test, s.key, s.app.client_id);
  const request = (app: typeof second) =>
    app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: formBody({ grant_type: "client_credentials", installation_id: s.installationId, ...assertionParams(assertion) }),
    });
  const results = await Promise.all([request(s.test.app), request(second), request(s.test.app), request(second)]);
  t.same(results.map((res) => res.statusCode).sort(), [200, 401, 401, 401], "exactly one of four concurrent uses succeeds");
});
