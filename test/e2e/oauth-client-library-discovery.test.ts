// Issue 4's "done when": a standard OAuth client library (oauth4webapi v3), given
// only the issuer URL and its client credentials, discovers the server and completes
// authorize → token → refresh → revoke with PKCE against a listening server. The test
// plays the browser (following the redirects) and the platform (its consent page
// answering through the admin API); everything the app does goes through the library.
import { createServer } from "node:net";
import * as oauth from "oauth4webapi";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, type TestApp } from "../support/helper.js";

const CONSENT = "https://platform.example/consent";
const CALLBACK = "https://app.example/callback";

// The library refuses plain http unless allowed: only for the test's 127.0.0.1 socket.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A port nothing listens on right now: the issuer must name it before the app starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The app on a real socket whose APPGRANT_ISSUER is its own address. */
async function runningServer(t: Test): Promise<{ test: TestApp; issuer: string }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const test = await buildTestApp(t, { PORT: String(port), APPGRANT_ISSUER: issuer, APPGRANT_CONSENT_URL: CONSENT });
  await test.app.listen({ port: test.config.port, host: "127.0.0.1" });
  return { test, issuer };
}

/** The platform's consent page: reads the pending request, then accepts it for an account. */
async function platformConsents(t: Test, issuer: string, consentUrl: URL, client: oauth.Client): Promise<URL> {
  const requestId = consentUrl.searchParams.get("request_id");
  if (requestId === null) throw new Error(`no request_id in ${consentUrl}`);
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  const shown = await fetch(`${issuer}/admin/v1/authorization-requests/${requestId}`, { headers: admin });
  t.equal(shown.status, 200);
  const request = (await shown.json()) as { client_id: string; scopes: string[]; redirect_uri: string; status: string };
  t.equal(request.client_id, client.client_id, "the consent page sees which app asks");
  t.same(request.scopes, ["read"], "and for what");
  t.equal(request.redirect_uri, CALLBACK);
  t.equal(request.status, "pending");
  const accepted = await fetch(`${issuer}/admin/v1/authorization-requests/${requestId}/accept`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ account: "acme" }),
  });
  t.equal(accepted.status, 200);
  return new URL(((await accepted.json()) as { redirect_to: string }).redirect_to);
}

async function introspect(issuer: string, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${issuer}/oauth/introspect`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
  });
  if (res.status !== 200) throw new Error(`introspection: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

t.test("oauth4webapi with only the issuer URL: discovery → authorize → PKCE code exchange → refresh → revoke", async (t) => {
  const { test, issuer } = await runningServer(t);
  const created = await createApp(test, { name: "Library App", redirect_uris: [CALLBACK], scopes: ["read", "write"] });
  if (created.client_secret === null) throw new Error("expected a confidential client");

  // What the app is configured with: the issuer URL and its credentials. Nothing else.
  const issuerUrl = new URL(issuer);
  const client: oauth.Client = { client_id: created.client_id };
  const clientAuth = oauth.ClientSecretBasic(created.client_secret);

  // Discovery (RFC 8414).
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...insecure }));
  t.equal(as.issuer, issuer);
  t.same(as.code_challenge_methods_supported, ["S256"]);
  t.equal(as.authorization_response_iss_parameter_supported, true);
  t.ok(as.authorization_endpoint && as.token_endpoint && as.revocation_endpoint, "the endpoints the cycle needs are advertised");

  // The authorization URL, with PKCE and state.
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const state = oauth.generateRandomState();
  const authorizationUrl = new URL(as.authorization_endpoint!);
  authorizationUrl.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: CALLBACK,
    scope: "read",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();

  // The browser: the authorization endpoint sends it to the platform's consent page…
  const authorizeResponse = await fetch(authorizationUrl, { redirect: "manual" });
  t.equal(authorizeResponse.status, 302);
  const consentUrl = new URL(authorizeResponse.headers.get("location")!);
  t.equal(`${consentUrl.origin}${consentUrl.pathname}`, CONSENT);
  // …which accepts and sends it back to the app's callback.
  const callbackUrl = await platformConsents(t, issuer, consentUrl, client);
  t.equal(`${callbackUrl.origin}${callbackUrl.pathname}`, CALLBACK);
  t.equal(callbackUrl.searchParams.get("iss"), issuer, "iss is sent (RFC 9207), as advertised");

  // The app's callback: state and iss checked by the library.
  const params = oauth.validateAuthResponse(as, client, callbackUrl, state);

  const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, CALLBACK, verifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse);
  t.type(tokens.access_token, "string");
  t.type(tokens.refresh_token, "string");
  t.equal(tokens.scope, "read");
  t.match(await introspect(issuer, tokens.access_token), { active: true, client_id: client.client_id, account: "acme", scope: "read" });

  const refreshResponse = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure);
  const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshResponse);
  t.not(refreshed.access_token, tokens.access_token);
  t.not(refreshed.refresh_token, tokens.refresh_token, "the refresh token rotated");
  t.match(await introspect(issuer, refreshed.access_token), { active: true });

  const revokeResponse = await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token!, {
    additionalParameters: { token_type_hint: "refresh_token" },
    ...insecure,
  });
  await oauth.processRevocationResponse(revokeResponse);

  // The revoked refresh token no longer works…
  const afterRevoke = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token!, insecure);
  try {
    await oauth.processRefreshTokenResponse(as, client, afterRevoke);
    t.fail("a revoked refresh token must not be refreshed");
  } catch (error) {
    t.ok(error instanceof oauth.ResponseBodyError, `an OAuth error response (got ${String(error)})`);
    if (error instanceof oauth.ResponseBodyError) {
      t.equal(error.status, 400);
      t.equal(error.error, "invalid_grant");
    }
  }
  // …and a resource server sees the family's last access token as inactive.
  t.same(await introspect(issuer, refreshed.access_token), { active: false });
  t.same(await introspect(issuer, refreshed.refresh_token!), { active: false });
});

t.test("oauth4webapi refuses a callback whose state does not match, so the flow stops at the app", async (t) => {
  const { test, issuer } = await runningServer(t);
  const created = await createApp(test, { redirect_uris: [CALLBACK], scopes: ["read"] });
  const issuerUrl = new URL(issuer);
  const client: oauth.Client = { client_id: created.client_id };
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: "oauth2", ...insecure }));
  const authorizationUrl = new URL(as.authorization_endpoint!);
  authorizationUrl.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    state: "the-state-sent",
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: "S256",
  }).toString();
  const consentUrl = new URL((await fetch(authorizationUrl, { redirect: "manual" })).headers.get("location")!);
  const callbackUrl = await platformConsents(t, issuer, consentUrl, client);
  t.equal(callbackUrl.searchParams.get("state"), "the-state-sent", "the server returns the state it was given");
  t.throws(() => oauth.validateAuthResponse(as, client, callbackUrl, "another-state"), "a different expected state is refused");
  // The server's iss is what the library checks against the discovered issuer.
  const forged = new URL(callbackUrl);
  forged.searchParams.set("iss", "https://evil.example");
  t.throws(() => oauth.validateAuthResponse(as, client, forged, "the-state-sent"), "a response from another issuer is refused");
  t.ok(oauth.validateAuthResponse(as, client, callbackUrl, "the-state-sent").get("code"));
});
