// Installation access tokens through real client libraries, unmodified (issue 11): an
// app holding only its private key authenticates with private_key_jwt and mints a
// token with grant_type=client_credentials and installation_id, with openid-client v6
// (clientCredentialsGrant, PrivateKeyJwt) and with oauth4webapi v3; then introspects
// and revokes it with the same authentication. The server listens on a real socket.
import type { AddressInfo } from "node:net";
import { exportPKCS8, importPKCS8 } from "jose";
import * as oauth from "oauth4webapi";
import * as openid from "openid-client";
import t from "tap";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

interface Platform {
  test: TestApp;
  tokenEndpoint: string;
  base: string;
  clientId: string;
  installationId: string;
  /** What the app keeps: the PEM the admin API showed once, and the key id. */
  privateKeyPem: string;
  kid: string;
}

async function platform(t: Parameters<typeof buildTestApp>[0]): Promise<Platform> {
  const test = await buildTestApp(t);
  // The libraries stamp assertions with the wall clock; the server's clock follows it here.
  test.clock.set(new Date());
  await test.app.listen({ port: 0, host: "127.0.0.1" });
  const base = `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}`;
  const app = await createApp(test, { grant_types: ["authorization_code", "refresh_token", "client_credentials"], scopes: ["read", "write"] });
  const key = await test.admin("POST", `/admin/v1/applications/${app.id}/keys`, {});
  if (key.statusCode !== 201) throw new Error(`add key: ${key.statusCode} ${key.body}`);
  const { private_key: privateKeyPem, kid } = key.json() as { private_key: string; kid: string };
  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read", "write"] });
  return { test, tokenEndpoint: `${base}/oauth/token`, base, clientId: app.client_id, installationId: installed.id, privateKeyPem, kid };
}

t.test("openid-client v6: clientCredentialsGrant with PrivateKeyJwt and installation_id", async (t) => {
  const p = await platform(t);
  const privateKey = await importPKCS8(p.privateKeyPem, "ES256");
  const config = new openid.Configuration(
    {
      issuer: p.test.config.issuer,
      token_endpoint: p.tokenEndpoint,
      introspection_endpoint: `${p.base}/oauth/introspect`,
      revocation_endpoint: `${p.base}/oauth/revoke`,
    },
    p.clientId,
    undefined,
    openid.PrivateKeyJwt({ key: privateKey, kid: p.kid }),
  );
  openid.allowInsecureRequests(config); // the test's 127.0.0.1 socket; production is https
  const tokens = await openid.clientCredentialsGrant(config, { installation_id: p.installationId, scope: "read" });
  t.match(tokens.access_token, /^agi_/);
  t.equal(tokens.token_type, "bearer", "the library lowercases it");
  t.equal(tokens.scope, "read");
  t.equal(tokens.refresh_token, undefined, "no refresh token");
  t.ok(tokens.expiresIn()! > 3500 && tokens.expiresIn()! <= 3600);

  const described = await openid.tokenIntrospection(config, tokens.access_token);
  t.match(described, { active: true, client_id: p.clientId, installation_id: p.installationId, account: "acme", scope: "read" });
  await openid.tokenRevocation(config, tokens.access_token);
  t.equal((await openid.tokenIntrospection(config, tokens.access_token)).active, false, "revoked");
});

t.test("oauth4webapi v3: clientCredentialsGrantRequest with PrivateKeyJwt", async (t) => {
  const p = await platform(t);
  const as: oauth.AuthorizationServer = {
    issuer: p.test.config.issuer,
    token_endpoint: p.tokenEndpoint,
    introspection_endpoint: `${p.base}/oauth/introspect`,
    revocation_endpoint: `${p.base}/oauth/revoke`,
  };
  const client: oauth.Client = { client_id: p.clientId };
  const auth = oauth.PrivateKeyJwt({ key: await importPKCS8(p.privateKeyPem, "ES256"), kid: p.kid });
  const insecure = { [oauth.allowInsecureRequests]: true } as const;
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ installation_id: p.installationId }), insecure);
  const tokens = await oauth.processClientCredentialsResponse(as, client, response);
  t.match(tokens.access_token, /^agi_/);
  t.equal(tokens.scope, "read write", "every scope of the installation");
  t.equal(tokens.refresh_token, undefined);
  t.equal(tokens.installation_id, p.installationId);

  const introspected = await oauth.processIntrospectionResponse(
    as,
    client,
    await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
  );
  t.equal(introspected.active, true);
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure));
  const after = await oauth.processIntrospectionResponse(
    as,
    client,
    await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
  );
  t.equal(after.active, false, "revoked");

  // Re-exporting shows the PEM is a standard PKCS#8 key any JOSE library reads.
  t.match(await exportPKCS8(await importPKCS8(p.privateKeyPem, "ES256", { extractable: true })), /^-----BEGIN PRIVATE KEY-----/);
});
