// Suspending an installation (issue 13): against every endpoint that issues, checks or
// revokes its credentials, nothing works while it is suspended and nothing is lost;
// unsuspending restores what has not expired or been revoked. Its webhooks are held
// (not claimed, no attempt spent) and released in order; a refresh racing the suspend
// never gets a token once the suspend has answered.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { type AppKey, assertionParams, clientAssertion, registerKey } from "../support/app-keys.js";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";
import {
  type ClientCredentials,
  exchange,
  expectError,
  expectTokens,
  formBody,
  isActive,
  newClient,
  newInstallation,
  refresh,
  tokenRequest,
  tokenRow,
} from "../support/oauth-helper.js";

const ALL_GRANTS = ["authorization_code", "refresh_token", "client_credentials"];
const SUSPENDED = "the installation is suspended";

interface Scene {
  test: TestApp;
  client: ClientCredentials & { id: string };
  key: AppKey;
  installationId: string;
}

async function scene(t: Test, test?: TestApp, app: Record<string, unknown> = {}): Promise<Scene & { code: string }> {
  test ??= await buildTestApp(t);
  const client = await newClient(test, { grant_types: ALL_GRANTS, ...app });
  const key = await registerKey(test, client.id);
  const installed = await newInstallation(test, client);
  return { test, client, key, installationId: installed.id, code: installed.code };
}

const suspend = (s: Scene, body?: unknown) => s.test.admin("POST", `/admin/v1/installations/${s.installationId}/suspend`, body);
const unsuspend = (s: Scene) => s.test.admin("POST", `/admin/v1/installations/${s.installationId}/unsuspend`);

async function mint(s: Scene) {
  return tokenRequest(s.test, {
    grant_type: "client_credentials",
    installation_id: s.installationId,
    ...assertionParams(await clientAssertion(s.test, s.key, s.client.client_id)),
  });
}

async function githubMint(s: Scene) {
  const now = Math.floor(s.test.clock().getTime() / 1000);
  const jwt = await clientAssertion(s.test, s.key, s.client.client_id, {
    claims: { sub: undefined, aud: undefined, jti: undefined, iat: now - 60, exp: now + 540 },
  });
  return s.test.app.inject({
    method: "POST",
    url: `/app/installations/${s.installationId}/access_tokens`,
    headers: { authorization: `Bearer ${jwt}` },
  });
}

/** Introspection by the application itself (client authentication), rather than by a resource server. */
async function introspectAsClient(s: Scene, token: string) {
  const res = await s.test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: {
      authorization: `Basic ${Buffer.from(`${s.client.client_id}:${s.client.client_secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    payload: formBody({ token }),
  });
  return res.json() as { active: boolean };
}

const tokenCount = (test: TestApp) => test.app.domain.db.token.count();
const eventTypes = async (test: TestApp, installationId: string) =>
  (await test.app.domain.db.event.findMany({ where: { installationId }, orderBy: { id: "asc" } })).map((event) => event.type);

t.test("while suspended nothing is issued, refreshed, exchanged or active, and nothing is lost; unsuspending restores it", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const first = expectTokens(t, await exchange(test, s.client, s.code));
  const pair = expectTokens(t, await refresh(test, s.client, first.refresh_token));
  const installationToken = (await mint(s)).json().access_token as string;
  const reissued = await test.admin("POST", `/admin/v1/installations/${s.installationId}/code`);
  const pendingCode = reissued.json().code as string;

  const res = await suspend(s, { reason: "billing overdue" });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { id: s.installationId, status: "suspended", suspended_at: test.clock().toISOString(), suspension_reason: "billing overdue" });
  t.match((await test.admin("GET", `/admin/v1/installations/${s.installationId}`)).json(), { status: "suspended", code_expires_at: String });
  const listed = async (status: string) =>
    (await test.admin("GET", `/admin/v1/installations?status=${status}`)).json().items.map((item: { id: string }) => item.id);
  t.same(await listed("suspended"), [s.installationId], "the status filter finds it");
  t.same(await listed("active"), [], "and active does not");

  const before = await tokenCount(test);
  t.equal(expectError(t, test, await refresh(test, s.client, pair.refresh_token), "invalid_grant", 400).error_description, SUSPENDED);
  t.equal((await tokenRow(test, pair.refresh_token)).rotatedAt, null, "the refused refresh token is not spent");
  t.equal(expectError(t, test, await exchange(test, s.client, pendingCode), "invalid_grant", 400).error_description, SUSPENDED);
  t.equal(expectError(t, test, await mint(s), "invalid_grant", 400).error_description, SUSPENDED, "client_credentials");
  const github = await githubMint(s);
  t.equal(github.statusCode, 403, "GitHub-compatible: 403, as GitHub answers for a suspended installation");
  t.same(github.json(), { message: SUSPENDED });
  t.equal(await tokenCount(test), before, "nothing was issued");
  const githubList = await test.app.inject({
    method: "GET",
    url: "/app/installations",
    headers: {
      authorization: `Bearer ${await clientAssertion(test, s.key, s.client.client_id, { claims: { sub: undefined, aud: undefined, jti: undefined } })}`,
    },
  });
  t.match(githubList.json(), [{ id: s.installationId, suspended_at: test.clock().toISOString() }], "GitHub's list shows it suspended");

  for (const token of [pair.access_token, pair.refresh_token, installationToken]) {
    t.equal(await isActive(test, token), false, "a resource server sees every token inactive");
    t.same(await introspectAsClient(s, token), { active: false }, "so does the application");
  }
  const revoked = await test.app.inject({
    method: "POST",
    url: "/oauth/revoke",
    headers: {
      authorization: `Basic ${Buffer.from(`${s.client.client_id}:${s.client.client_secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    payload: formBody({ token: installationToken }),
  });
  t.equal(revoked.statusCode, 200, "a token can still be revoked while suspended");
  t.equal((await test.admin("POST", `/admin/v1/installations/${s.installationId}/code`)).statusCode, 409, "no code is reissued");
  t.equal((await suspend(s)).statusCode, 200, "suspending again (no body) changes nothing");

  const back = await unsuspend(s);
  t.equal(back.statusCode, 200, back.body);
  t.match(back.json(), { status: "active", suspended_at: null, suspension_reason: null });
  t.equal(await isActive(test, pair.access_token), true, "the pair works again");
  t.equal(await isActive(test, installationToken), false, "what was revoked meanwhile stays revoked");
  t.equal(await isActive(test, first.access_token), false, "a rotated token stays rotated");
  expectTokens(t, await refresh(test, s.client, pair.refresh_token), { installation_id: s.installationId });
  expectTokens(t, await exchange(test, s.client, pendingCode), { installation_id: s.installationId });
  t.equal((await mint(s)).statusCode, 200);
  t.equal((await githubMint(s)).statusCode, 201);
  t.equal((await unsuspend(s)).statusCode, 200, "unsuspending an active installation changes nothing");

  const types = await eventTypes(test, s.installationId);
  t.same(
    types.filter((type) => type.startsWith("installation.") && type !== "installation.created" && type !== "installation.code_reissued"),
    ["installation.suspended", "installation.unsuspended"],
    "one event each: repeating changed nothing",
  );
  const suspendedEvent = await test.app.domain.db.event.findFirstOrThrow({ where: { type: "installation.suspended" } });
  t.match(JSON.parse(suspendedEvent.data), { reason: "billing overdue", installation: { id: s.installationId, status: "suspended" } });
  t.equal(suspendedEvent.actorType, "admin");
});

t.test("suspend and unsuspend: 404, 409 for an uninstalled installation, 400 for a bad reason; a suspended one can be uninstalled", async (t) => {
  const s = await scene(t);
  const { test } = s;
  t.equal((await test.admin("POST", "/admin/v1/installations/nope/suspend")).statusCode, 404);
  t.equal((await test.admin("POST", "/admin/v1/installations/nope/unsuspend")).statusCode, 404);
  t.equal((await suspend(s, { reason: "x".repeat(501) })).statusCode, 400);
  t.equal((await suspend(s, { because: "x" })).statusCode, 400);
  t.equal((await test.admin("GET", `/admin/v1/installations/${s.installationId}`)).json().status, "active", "refusals changed nothing");

  const pair = expectTokens(t, await exchange(test, s.client, s.code));
  t.equal((await suspend(s)).statusCode, 200);
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${s.installationId}`)).statusCode, 204, "a suspended installation can be uninstalled");
  const gone = (await test.admin("GET", `/admin/v1/installations/${s.installationId}`)).json();
  t.match(gone, { status: "uninstalled", suspended_at: null });
  t.equal((await suspend(s)).statusCode, 409);
  t.equal((await unsuspend(s)).statusCode, 409);
  t.equal((await tokenRow(test, pair.refresh_token)).revokedReason, "uninstalled", "its tokens are revoked, not merely inactive");
  const again = await test.admin("POST", "/admin/v1/installations", { client_id: s.client.client_id, account: gone.account });
  t.equal(again.statusCode, 201, "the account can be installed into again");
});

// ---------------------------------------------------------------- webhooks

interface Received {
  type: string;
  id: string;
}

/** A receiver on 127.0.0.1 recording each delivery's type; `status` decides the answer. */
async function receiver(t: Test) {
  const state = { url: "", received: [] as Received[], status: 200 };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      state.received.push({ type: (JSON.parse(body) as { type: string }).type, id: String(req.headers["webhook-id"]) });
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

async function until<T>(what: string, check: () => Promise<T | false | undefined> | T | false | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test("a suspended installation's webhooks are held, spend no attempt, and are released in order on unsuspend", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, { webhooks: { pollMs: 20 } });
  const hook = await receiver(t);
  const s = await scene(t, test, { webhook_url: hook.url });
  const deliveries = () => test.app.domain.db.webhookDelivery.findMany({ where: { installationId: s.installationId }, orderBy: { id: "asc" } });
  await until("installation.created", () => hook.received.length === 1);

  // One delivery fails before the suspension: it is pending, with a retry due later.
  hook.status = 500;
  await test.admin("POST", `/admin/v1/installations/${s.installationId}/code`);
  const failing = await until("a failed attempt", async () =>
    (await deliveries()).find((d) => d.type === "installation.code_reissued" && d.attempts === 1 && d.leaseUntil === null),
  );
  hook.status = 200;

  t.equal((await suspend(s, { reason: "audit" })).statusCode, 200);
  await until("installation.suspended is sent while the installation is suspended", () =>
    hook.received.some((r) => r.type === "installation.suspended"),
  );
  // A webhook raised while suspended (a permission request) is held too.
  t.equal((await test.admin("PATCH", `/admin/v1/applications/${s.client.id}`, { scopes: ["read", "write", "admin"] })).statusCode, 200);
  test.clock.set(new Date(failing.nextAttemptAt.getTime() + 60_000)); // the retry is due…
  await new Promise((resolve) => setTimeout(resolve, 400)); // …for many polls
  t.same(
    hook.received.map((r) => r.type),
    ["installation.created", "installation.code_reissued", "installation.suspended"],
    "nothing else was sent while suspended",
  );
  const held = await deliveries();
  t.match(
    held.map((d) => [d.type, d.status, d.attempts]),
    [
      ["installation.created", "delivered", 1],
      ["installation.code_reissued", "pending", 1],
      ["installation.suspended", "delivered", 1],
      ["installation.new_permissions_requested", "pending", 0],
    ],
    "the held deliveries are pending, with no attempt spent",
  );

  t.equal((await unsuspend(s)).statusCode, 200);
  await until("the held webhooks and installation.unsuspended", () => hook.received.length === 6);
  t.same(
    hook.received.slice(3).map((r) => r.type),
    ["installation.code_reissued", "installation.new_permissions_requested", "installation.unsuspended"],
    "released in order, then the unsuspension",
  );
  const released = await until("recorded", async () => {
    const rows = await deliveries();
    return rows.every((d) => d.status === "delivered") && rows;
  });
  t.same(
    released.map((d) => d.attempts),
    [1, 2, 1, 1, 1],
    "one attempt each after the release",
  );
});

// ---------------------------------------------------------------- the race

t.test("refreshes racing a suspend: each either rotated before it or was refused and kept; none after it answered", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const families = 24;
  const pairs = [expectTokens(t, await exchange(test, s.client, s.code))];
  for (let i = 1; i < families; i++) {
    const code = (await test.admin("POST", `/admin/v1/installations/${s.installationId}/code`)).json().code as string;
    pairs.push(expectTokens(t, await exchange(test, s.client, code)));
  }
  const before = await tokenCount(test);

  // The suspend starts once a quarter of the refreshes have answered: the rest are in flight, at every stage.
  let answered = 0;
  let startSuspend: () => void;
  const suspended = new Promise<void>((resolve) => (startSuspend = resolve)).then(() => suspend(s));
  const racing = pairs.map((pair) =>
    refresh(test, s.client, pair.refresh_token).then((res) => {
      if (++answered === families / 4) startSuspend();
      return res;
    }),
  );
  const results = await Promise.all(racing);
  t.equal((await suspended).statusCode, 200);

  const won = results.filter((res) => res.statusCode === 200);
  for (const [i, res] of results.entries()) {
    if (res.statusCode === 200) continue;
    t.equal(expectError(t, test, res, "invalid_grant", 400).error_description, SUSPENDED);
    t.equal((await tokenRow(test, pairs[i]!.refresh_token)).rotatedAt, null, "a refused refresh token is not spent");
  }
  t.equal(await tokenCount(test), before + won.length, "a token row for each success, and none for a refusal");
  t.comment(`${won.length} of ${families} refreshes rotated before the suspend`);

  const after = await Promise.all(pairs.map((pair) => refresh(test, s.client, pair.refresh_token)));
  t.ok(
    after.every((res) => res.statusCode === 400),
    "once the suspend has answered, no refresh gets a token",
  );
  for (const res of won) t.equal(await isActive(test, res.json().access_token), false, "what won is inactive now");

  t.equal((await unsuspend(s)).statusCode, 200);
  for (const res of won) t.equal(await isActive(test, res.json().access_token), true, "and active again after");
  for (const [i, res] of results.entries()) {
    if (res.statusCode !== 200) expectTokens(t, await refresh(test, s.client, pairs[i]!.refresh_token));
  }
});

t.test("the admin token is required", async (t) => {
  const test = await buildTestApp(t);
  for (const path of ["suspend", "unsuspend", "permissions/accept", "permissions/reject"]) {
    const res = await test.app.inject({
      method: "POST",
      url: `/admin/v1/installations/x/${path}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
    });
    t.equal(res.statusCode, 401, path);
  }
});
