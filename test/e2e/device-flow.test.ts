// The device flow (RFC 8628, issue 14) driven by a standard client library, unmodified:
// openid-client v6's discovery (the CLI knows the issuer URL and its client_id, nothing
// else), initiateDeviceAuthorization and pollDeviceAuthorizationGrant, a public CLI client
// on a real socket, with the platform's verification page (two admin calls) answering
// while the library polls. The library waits the interval in real time, so the server's
// clock follows the wall clock here.
import { createServer } from "node:net";
import * as openid from "openid-client";
import t, { type Test } from "tap";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { buildTestApp, createApp, type TestApp } from "../support/helper.js";

const VERIFICATION_URL = "https://platform.example/device";

/** A port nothing listens on right now: the issuer must name it before the app starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The app on a real socket whose APPGRANT_ISSUER is its own address, and a public CLI application. */
async function platform(t: Test, env: Record<string, string> = {}): Promise<{ test: TestApp; issuer: string; clientId: string }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const test = await buildTestApp(t, { PORT: String(port), APPGRANT_ISSUER: issuer, APPGRANT_DEVICE_POLL_INTERVAL: "1", ...env });
  test.clock.set(new Date());
  const tick = setInterval(() => test.clock.set(new Date()), 10);
  t.teardown(() => clearInterval(tick));
  await test.app.listen({ port, host: "127.0.0.1" });
  const cli = await createApp(test, {
    name: "Acme CLI",
    client_type: "public",
    grant_types: [DEVICE_CODE_GRANT, "refresh_token"],
    scopes: ["read", "write"],
  });
  return { test, issuer, clientId: cli.client_id };
}

/** What the CLI does with the issuer URL and its client_id: RFC 8414 discovery, no endpoint configured by hand. */
function discover(issuer: string, clientId: string): Promise<openid.Configuration> {
  // allowInsecureRequests: the test's 127.0.0.1 socket; production is https.
  return openid.discovery(new URL(issuer), clientId, undefined, openid.None(), { algorithm: "oauth2", execute: [openid.allowInsecureRequests] });
}

async function deviceCli(t: Test): Promise<{ test: TestApp; config: openid.Configuration }> {
  const { test, issuer, clientId } = await platform(t, { APPGRANT_DEVICE_VERIFICATION_URL: VERIFICATION_URL });
  const config = await discover(issuer, clientId);
  t.equal(config.serverMetadata().device_authorization_endpoint, `${issuer}/oauth/device_authorization`, "discovered");
  return { test, config };
}

/** Resolves once the device has polled at least once (the platform's page would take longer than that). */
async function polled(test: TestApp): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const row = await test.app.domain.db.deviceAuthorization.findFirst({ where: { lastPolledAt: { not: null } } });
    if (row) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the client library never polled");
}

t.test("openid-client v6: a public CLI gets tokens through the device flow while the platform accepts", async (t) => {
  const { test, config } = await deviceCli(t);
  const started = await openid.initiateDeviceAuthorization(config, { scope: "read" });
  t.match(started, { user_code: /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/, verification_uri: VERIFICATION_URL, interval: 1 });
  t.match(started.device_code, /^agd_/);
  const polling = openid.pollDeviceAuthorizationGrant(config, started);

  await polled(test);
  // The platform's verification page: what the person typed, then the answer.
  const shown = await test.admin("GET", `/admin/v1/device-authorizations/${started.user_code.toLowerCase()}`);
  t.match(shown.json(), { application: { name: "Acme CLI" }, scopes: ["read"], status: "pending" });
  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/accept`, { account: "acme" });
  t.equal(accepted.statusCode, 200, accepted.body);

  const tokens = await polling;
  t.match(tokens.access_token, /^aga_/);
  t.match(tokens.refresh_token, /^agr_/, "a refresh token for the public client");
  t.equal(tokens.scope, "read");
  t.equal(tokens.installation_id, accepted.json().installation_id);

  const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token!);
  t.match(refreshed.access_token, /^aga_/, "the refresh token works with the same library");
  t.not(refreshed.refresh_token, tokens.refresh_token, "and rotates");
});

t.test("openid-client v6: a rejected device authorization ends the polling with access_denied", async (t) => {
  const { test, config } = await deviceCli(t);
  const started = await openid.initiateDeviceAuthorization(config, {});
  const polling = openid.pollDeviceAuthorizationGrant(config, started);
  await polled(test);
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/reject`)).statusCode, 200);
  const refused = await polling.then(
    () => undefined,
    (error: unknown) => error,
  );
  t.match(refused, { error: "access_denied" }, "the library reports the RFC 8628 error");
});

t.test("openid-client v6: without the device flow configured, discovery offers none, and the library does not try", async (t) => {
  const { test, issuer, clientId } = await platform(t);
  const config = await discover(issuer, clientId);
  t.equal(config.serverMetadata().device_authorization_endpoint, undefined, "no device_authorization_endpoint");
  t.notOk(config.serverMetadata().grant_types_supported?.includes(DEVICE_CODE_GRANT), "no device grant");
  const refused = await openid.initiateDeviceAuthorization(config, {}).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.match(String(refused), /device_authorization_endpoint/, "the library refuses before sending anything: no endpoint to send to");
  t.equal(await test.app.domain.db.deviceAuthorization.count(), 0);
});
