// The whole flow driven by a standard, certified OAuth 2.0 client library
// (oauth4webapi v3) against the server on a real socket: no hand-made token
// requests. Whatever the library needs, a platform integrator using it needs too;
// such things are marked "INTEGRATOR:" below.
//
// INTEGRATOR: there is no discovery document (/.well-known/oauth-authorization-server)
// yet, so the AuthorizationServer object is built by hand from the issuer and the
// token endpoint URL instead of oauth.discoveryRequest()/processDiscoveryResponse().
import type { AddressInfo } from "node:net";
import * as oauth from "oauth4webapi";
import t, { type Test } from "tap";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

const CALLBACK = "https://app.example/callback";

// INTEGRATOR: the library refuses plain http unless allowed explicitly. Only for the
// test's 127.0.0.1 socket; a real deployment serves the token endpoint over https.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

interface Installed {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  secret: string;
  /** The installation's redirect: the app's callback with code, installation_id and account. */
  redirectTo: string;
  installationId: string;
}

/** Starts the app on a real socket and returns the hand-built AS metadata. */
async function listen(test: TestApp): Promise<oauth.AuthorizationServer> {
  await test.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = test.app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  // The issuer is the server's configured identity (it signs redirects with `iss`, RFC 9207);
  // the endpoint is where this test reaches it.
  return { issuer: test.config.issuer, token_endpoint: `${base}/oauth/token`, authorization_response_iss_parameter_supported: true };
}

/** A new application installed into an account, through the admin API. */
async function installApp(test: TestApp, as: oauth.AuthorizationServer, account: string): Promise<Installed> {
  const created = await createApp(test, { name: `App for ${account}`, redirect_uris: [CALLBACK], scopes: ["read", "write"] });
  if (created.client_secret === null) throw new Error("expected a confidential client");
  const installed = await install(test, created.client_id, { account });
  if (typeof installed.redirect_to !== "string") throw new Error("expected redirect_to for an app with one redirect URI");
  return {
    as,
    client: { client_id: created.client_id },
    secret: created.client_secret,
    redirectTo: installed.redirect_to,
    installationId: installed.id,
  };
}

/** Parses the redirect the way an app's callback handler would, with the library. */
function callbackParameters(i: Installed): URLSearchParams {
  // INTEGRATOR: an installation redirect carries no `state` (the platform, not the
  // app, starts the flow), so the app must expect none (oauth.expectNoState, also the
  // library's default). It carries `iss` (RFC 9207), which the library checks against
  // the issuer because the metadata says it is sent.
  return oauth.validateAuthResponse(i.as, i.client, new URL(i.redirectTo), oauth.expectNoState);
}

async function exchangeCode(i: Installed, params: URLSearchParams): Promise<oauth.TokenEndpointResponse> {
  // INTEGRATOR: installations made through the admin API use no PKCE (oauth.nopkce).
  // The library always sends redirect_uri; the server accepts it (the code is not
  // bound to one, and the value is the registered callback anyway).
  const response = await oauth.authorizationCodeGrantRequest(
    i.as,
    i.client,
    oauth.ClientSecretBasic(i.secret),
    params,
    CALLBACK,
    oauth.nopkce,
    insecure,
  );
  return oauth.processAuthorizationCodeResponse(i.as, i.client, response);
}

async function refresh(i: Installed, refreshToken: string | undefined): Promise<oauth.TokenEndpointResponse> {
  if (refreshToken === undefined) throw new Error("no refresh token");
  const response = await oauth.refreshTokenGrantRequest(i.as, i.client, oauth.ClientSecretPost(i.secret), refreshToken, insecure);
  return oauth.processRefreshTokenResponse(i.as, i.client, response);
}

/** What fn threw; fails the test if it did not throw. */
async function thrown(t: Test, fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  t.fail("expected the library to throw");
  return undefined;
}

/** The library surfaced an RFC 6749 §5.2 error response as a ResponseBodyError. */
function assertOAuthError(t: Test, error: unknown, code: string, status: number): void {
  t.ok(error instanceof oauth.ResponseBodyError, `a ResponseBodyError (got ${String(error)})`);
  if (error instanceof oauth.ResponseBodyError) {
    t.equal(error.error, code);
    t.equal(error.status, status);
    t.type(error.error_description, "string");
  }
}

function assertPair(t: Test, tokens: oauth.TokenEndpointResponse, installationId: string): void {
  t.type(tokens.access_token, "string");
  t.ok(tokens.access_token.length >= 43, "access token long enough for 256 random bits");
  // The library lower-cases token_type; the server sends "Bearer".
  t.equal(tokens.token_type, "bearer");
  // Exact because buildTestApp's clock does not move during the test.
  t.equal(tokens.expires_in, 8 * 3600, "expires_in: the default access token lifetime");
  t.type(tokens.refresh_token, "string");
  t.not(tokens.refresh_token, tokens.access_token);
  t.equal(tokens.scope, "read write");
  // Extra members of the token response reach the app untouched.
  t.equal(tokens.installation_id, installationId);
}

t.test("oauth4webapi: code exchange (basic), refresh (post), rotation, reuse detection", async (t) => {
  // Grace period 0 disables the idempotent-retry window, so a rotated refresh token
  // is refused at once. (buildTestApp's clock is a frozen test clock even on a real
  // socket; advancing it past 60 s would do the same, but 0 also covers the setting.)
  const test = await buildTestApp(t, { APPGRANT_REFRESH_GRACE_PERIOD: "0" });
  const as = await listen(test);
  const acme = await installApp(test, as, "acme");

  const redirect = new URL(acme.redirectTo);
  t.equal(`${redirect.origin}${redirect.pathname}`, CALLBACK, "redirect_to is the app's callback");
  const params = callbackParameters(acme);
  // The library tolerates the platform's extra parameters and keeps them for the app.
  t.equal(params.get("installation_id"), acme.installationId);
  t.equal(params.get("account"), "acme");
  t.match(params.get("code"), /\S+/);

  const tokens = await exchangeCode(acme, params);
  assertPair(t, tokens, acme.installationId);

  const refreshed = await refresh(acme, tokens.refresh_token);
  assertPair(t, refreshed, acme.installationId);
  t.not(refreshed.access_token, tokens.access_token, "a new access token");
  t.not(refreshed.refresh_token, tokens.refresh_token, "a new refresh token");

  // With the grace period at 0 the rotated refresh token is refused at once, as an
  // OAuth error the library understands…
  assertOAuthError(t, await thrown(t, () => refresh(acme, tokens.refresh_token)), "invalid_grant", 400);
  // …and that reuse revoked the whole family (RFC 9700 §4.14.2), successor included.
  assertOAuthError(t, await thrown(t, () => refresh(acme, refreshed.refresh_token)), "invalid_grant", 400);
});

t.test("oauth4webapi: a code is single use; its reuse revokes what it produced", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_REFRESH_GRACE_PERIOD: "0" });
  const globex = await installApp(test, await listen(test), "globex");
  const params = callbackParameters(globex);
  const tokens = await exchangeCode(globex, params);
  assertOAuthError(t, await thrown(t, () => exchangeCode(globex, params)), "invalid_grant", 400);
  // RFC 6749 §10.5: the tokens issued from the reused code are revoked.
  assertOAuthError(t, await thrown(t, () => refresh(globex, tokens.refresh_token)), "invalid_grant", 400);
});

t.test("oauth4webapi: wrong client secret over HTTP Basic", async (t) => {
  const test = await buildTestApp(t);
  const initech = await installApp(test, await listen(test), "initech");
  // A well-formed secret of another application: it passes the format checksum and
  // reaches the real verification.
  const other = await createApp(test, { name: "Other App" });
  const wrong = { ...initech, secret: other.client_secret! };
  const error = await thrown(t, () => exchangeCode(wrong, callbackParameters(wrong)));
  // INTEGRATOR: invalid_client with HTTP Basic answers 401 with a WWW-Authenticate
  // challenge (RFC 6749 §5.2), which oauth4webapi reports as a
  // WWWAuthenticateChallengeError carrying the response, not as a ResponseBodyError:
  // an app's error handling must look at both.
  t.ok(error instanceof oauth.WWWAuthenticateChallengeError, `a WWWAuthenticateChallengeError (got ${String(error)})`);
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    t.equal(error.status, 401);
    t.equal(error.cause[0]?.scheme, "basic");
    t.match(await error.response.json(), { error: "invalid_client" });
  }
  // The refused request did not spend the code: the right secret still gets tokens.
  assertPair(t, await exchangeCode(initech, callbackParameters(initech)), initech.installationId);
});

t.test("oauth4webapi: a retried refresh inside the grace period gets the same pair", async (t) => {
  // Default grace period (60 s): a client whose refresh response was lost retries
  // with the same refresh token and the library receives the identical successor.
  const test = await buildTestApp(t);
  const hooli = await installApp(test, await listen(test), "hooli");
  const tokens = await exchangeCode(hooli, callbackParameters(hooli));
  const refreshed = await refresh(hooli, tokens.refresh_token);
  const retried = await refresh(hooli, tokens.refresh_token);
  t.equal(retried.access_token, refreshed.access_token);
  t.equal(retried.refresh_token, refreshed.refresh_token);
  assertPair(t, retried, hooli.installationId);

  // The successor rotates in turn; once it has been used, the original refresh token
  // is no retry any more, even inside the grace period: reuse, family revoked.
  const third = await refresh(hooli, refreshed.refresh_token);
  assertPair(t, third, hooli.installationId);
  t.not(third.refresh_token, refreshed.refresh_token);
  assertOAuthError(t, await thrown(t, () => refresh(hooli, tokens.refresh_token)), "invalid_grant", 400);
  assertOAuthError(t, await thrown(t, () => refresh(hooli, third.refresh_token)), "invalid_grant", 400);
});
