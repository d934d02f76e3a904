// GitHub App tooling against the GitHub-compatible endpoint (issue 11): Octokit's
// @octokit/auth-app, unmodified, signs its app JWT with the application's RSA key, and
// @octokit/request calls GET /app/installations and POST
// /app/installations/{id}/access_tokens with it on a real socket; the token then
// introspects as active.
//
// Not covered: auth-app's own installation flow (`auth({type: "installation"})`) coerces
// the installation id to a Number, as GitHub's ids are; appgrant's are UUIDs.
import type { AddressInfo } from "node:net";
import { createAppAuth } from "@octokit/auth-app";
import { request } from "@octokit/request";
import { exportPKCS8 } from "jose";
import t from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, install } from "../support/helper.js";
import { registerKey } from "../support/app-keys.js";

t.test("@octokit/auth-app mints an installation token", async (t) => {
  const test = await buildTestApp(t);
  test.clock.set(new Date()); // Octokit stamps its JWT with the wall clock
  await test.app.listen({ port: 0, host: "127.0.0.1" });
  const base = `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}`;
  const app = await createApp(test, { grant_types: ["authorization_code", "refresh_token", "client_credentials"], scopes: ["read", "write"] });
  const key = await registerKey(test, app.id, "RS256");
  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read", "write"] });

  const auth = createAppAuth({ appId: app.client_id, privateKey: await exportPKCS8(key.privateKey) });
  const appAuth = await auth({ type: "app" });
  t.equal(appAuth.type, "app", "Octokit made its app JWT");
  const headers = { authorization: `bearer ${appAuth.token}` };
  const listed = await request("GET /app/installations", { baseUrl: base, headers });
  t.same(
    (listed.data as unknown as { id: string }[]).map((i) => i.id),
    [installed.id],
  );
  const minted = await request("POST /app/installations/{installation_id}/access_tokens", {
    baseUrl: base,
    headers,
    installation_id: installed.id as unknown as number,
  });
  t.equal(minted.status, 201);
  const result = minted.data as unknown as { token: string; expires_at: string };
  t.match(result.token, /^agi_/);
  t.equal(new Date(result.expires_at).getTime(), test.clock().getTime() + 3600_000);

  const introspected = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    payload: `token=${result.token}`,
  });
  t.match(introspected.json(), { active: true, installation_id: installed.id, client_id: app.client_id, scope: "read write" });
});
