// The device authorization grant (RFC 8628, issue 14): POST /oauth/device_authorization,
// the platform's verification page through /admin/v1/device-authorizations/{user_code},
// and the polls at /oauth/token: every answer a poll can get, slow_down's growing
// interval, the single use of the device code under 30 concurrent polls, the limit on
// user-code guessing, and the events.
import { randomBytes } from "node:crypto";
import t, { type Test } from "tap";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import {
  type ClientCredentials,
  expectError,
  expectNothingSecretLogged,
  expectTokens,
  formBody,
  newClient,
  refresh,
  remember,
  tokenRequest,
} from "../support/oauth-helper.js";

const VERIFICATION_URL = "https://platform.example/device";
const DEVICE_GRANTS = [DEVICE_CODE_GRANT, "refresh_token"];
const USER_CODE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

interface Started {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

const deviceTestApp = (t: Test, env: Record<string, string> = {}) => buildTestApp(t, { APPGRANT_DEVICE_VERIFICATION_URL: VERIFICATION_URL, ...env });

/** A public CLI application allowed the device flow (or `body`'s kind of application). */
function deviceClient(test: TestApp, body: Record<string, unknown> = {}) {
  return newClient(test, { client_type: "public", grant_types: DEVICE_GRANTS, scopes: ["read", "write"], ...body });
}

function startRequest(test: TestApp, client: ClientCredentials, params: Record<string, string> = {}, remoteAddress?: string) {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  const body = { ...params };
  if (client.client_secret) headers.authorization = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`;
  else body.client_id = client.client_id;
  return test.app.inject({
    method: "POST",
    url: "/oauth/device_authorization",
    headers,
    payload: formBody(body),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

async function start(test: TestApp, client: ClientCredentials, params: Record<string, string> = {}): Promise<Started> {
  const res = await startRequest(test, client, params);
  if (res.statusCode !== 200) throw new Error(`start: ${res.statusCode} ${res.body}`);
  const started = res.json() as Started;
  remember(test, started.device_code, started.user_code, started.user_code.replace("-", ""));
  return started;
}

async function poll(test: TestApp, client: ClientCredentials, deviceCode: string) {
  const res = await tokenRequest(test, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }, { client });
  if (res.statusCode === 200) remember(test, res.json().access_token, res.json().refresh_token);
  return res;
}

const deviceRow = (test: TestApp) => test.app.domain.db.deviceAuthorization.findFirstOrThrow({ orderBy: { id: "desc" } });

t.test("a public CLI: device authorization, pending polls, the platform accepts, one token pair, then invalid_grant", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const res = await startRequest(test, client);
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers["cache-control"], "no-store");
  const started = res.json() as Started;
  remember(test, started.device_code, started.user_code);
  t.same(Object.keys(started).sort(), ["device_code", "expires_in", "interval", "user_code", "verification_uri", "verification_uri_complete"]);
  t.match(started.device_code, /^agd_[0-9A-Za-z]{49}$/, "a typed, checksummed agd_ device code");
  t.match(started.user_code, USER_CODE, "XXXX-XXXX from an unambiguous alphabet");
  t.equal(started.verification_uri, VERIFICATION_URL);
  t.equal(started.verification_uri_complete, `${VERIFICATION_URL}?user_code=${started.user_code}`);
  t.equal(started.expires_in, 600);
  t.equal(started.interval, 5);

  expectError(t, test, await poll(test, client, started.device_code), "authorization_pending", 400);
  test.clock.advance(5);
  expectError(t, test, await poll(test, client, started.device_code), "authorization_pending", 400);

  // The verification page: the code as a person types it, lower case and without the dash.
  const typed = started.user_code.replace("-", "").toLowerCase();
  const shown = await test.admin("GET", `/admin/v1/device-authorizations/${typed}`);
  t.equal(shown.statusCode, 200, shown.body);
  t.match(shown.json(), { client_id: client.client_id, application: { name: "Test App" }, scopes: ["read", "write"], status: "pending" });
  t.ok(new Date(shown.json().expires_at).getTime() > test.clock().getTime(), "expires_at ahead");

  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/accept`, { account: "acme" });
  t.equal(accepted.statusCode, 200, accepted.body);
  t.equal(accepted.json().status, "accepted");
  const installationId = accepted.json().installation_id as string;

  test.clock.advance(5);
  const tokens = expectTokens(t, await poll(test, client, started.device_code), { scope: "read write", installation_id: installationId });
  expectError(t, test, await poll(test, client, started.device_code), "invalid_grant", 400);
  test.clock.advance(5);
  expectError(t, test, await poll(test, client, started.device_code), "invalid_grant", 400);

  // A public client's refresh token rotates like any other.
  const refreshed = expectTokens(t, await refresh(test, client, tokens.refresh_token), { installation_id: installationId });
  remember(test, refreshed.access_token, refreshed.refresh_token);

  const again = await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/accept`, { account: "acme" });
  t.equal(again.statusCode, 409, "a second accept is 409");
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/reject`)).statusCode, 409, "so is a reject after it");

  const installation = await test.app.domain.db.installation.findUniqueOrThrow({ where: { id: installationId } });
  t.match(installation, { account: "acme", scopes: "read write", status: "active" });
  const events = await test.app.domain.db.event.findMany({ where: { type: { startsWith: "device_authorization." } } });
  t.same(
    events.map((e) => [e.type, e.actorType, JSON.parse(e.data)]),
    [
      [
        "device_authorization.accepted",
        "admin",
        { device_authorization_id: shown.json().id, account: "acme", scopes: ["read", "write"], installation_created: true },
      ],
    ],
    "one event, with no code in it",
  );
  t.equal(await test.app.domain.db.event.count({ where: { type: "installation.created", installationId } }), 1, "installation.created too");
  expectNothingSecretLogged(t, test);
});

t.test("a confidential client (HTTP Basic) gets a refresh token too; narrowed scopes; the installation is reused", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test, { client_type: "confidential" });
  const first = await start(test, client, { scope: "read" });
  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${first.user_code}/accept`, { account: "acme" });
  t.equal(accepted.statusCode, 200, accepted.body);
  const tokens = expectTokens(t, await poll(test, client, first.device_code), { scope: "read" });

  const second = await start(test, client);
  const answered = await test.admin("POST", `/admin/v1/device-authorizations/${second.user_code}/accept`, { account: "acme", scopes: ["write"] });
  t.equal(answered.statusCode, 200, answered.body);
  t.equal(answered.json().installation_id, tokens.installation_id, "the active installation of (application, account) is reused");
  expectTokens(t, await poll(test, client, second.device_code), { scope: "write", installation_id: tokens.installation_id });
  const installation = await test.app.domain.db.installation.findUniqueOrThrow({ where: { id: tokens.installation_id } });
  t.equal(installation.scopes, "read write", "its scopes widened to what was consented");

  const third = await start(test, client, { scope: "read" });
  const widened = await test.admin("POST", `/admin/v1/device-authorizations/${third.user_code}/accept`, { account: "acme", scopes: ["write"] });
  t.equal(widened.statusCode, 400, "the platform cannot grant scopes the device did not ask for");
  expectError(t, test, await startRequest(test, client, { scope: "read admin" }), "invalid_scope", 400);
});

t.test("slow_down: a poll sooner than the interval, and the interval grows by 5 s each time", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const { device_code: code } = await start(test, client);
  expectError(t, test, await poll(test, client, code), "authorization_pending", 400);
  test.clock.advance(1);
  expectError(t, test, await poll(test, client, code), "slow_down", 400);
  t.equal((await deviceRow(test)).interval, 10, "5 + 5");
  test.clock.advance(5);
  expectError(t, test, await poll(test, client, code), "slow_down", 400, []);
  t.equal((await deviceRow(test)).interval, 15, "5 s later is too soon once the interval is 10");
  test.clock.advance(15);
  expectError(t, test, await poll(test, client, code), "authorization_pending", 400);
  // Fast polling: every one of them is slowed down.
  for (let i = 0; i < 3; i++) expectError(t, test, await poll(test, client, code), "slow_down", 400);
  t.equal((await deviceRow(test)).interval, 30);
  // Concurrent polls after a quiet interval: one is on time, the others came too soon.
  test.clock.advance(30);
  const answers = await Promise.all(Array.from({ length: 5 }, () => poll(test, client, code)));
  t.same(answers.map((res) => res.json().error).sort(), ["authorization_pending", "slow_down", "slow_down", "slow_down", "slow_down"]);
});

t.test("access_denied once rejected; expired_token once expired; the verification page then 404s", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const rejected = await start(test, client);
  const res = await test.admin("POST", `/admin/v1/device-authorizations/${rejected.user_code}/reject`);
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().status, "rejected");
  expectError(t, test, await poll(test, client, rejected.device_code), "access_denied", 400);
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${rejected.user_code}/reject`)).statusCode, 409, "a second reject is 409");
  t.equal(
    (await test.admin("POST", `/admin/v1/device-authorizations/${rejected.user_code}/accept`, { account: "acme" })).statusCode,
    409,
    "an accept after it too",
  );
  t.equal(await test.app.domain.db.event.count({ where: { type: "device_authorization.rejected" } }), 1);

  const expiring = await start(test, client);
  test.clock.advance(600);
  expectError(t, test, await poll(test, client, expiring.device_code), "expired_token", 400);
  t.equal((await test.admin("GET", `/admin/v1/device-authorizations/${expiring.user_code}`)).statusCode, 404, "expired: not found");
  const late = await test.admin("POST", `/admin/v1/device-authorizations/${expiring.user_code}/accept`, { account: "acme" });
  t.equal(late.statusCode, 404, "and cannot be accepted");

  // Accepted, then expired before the device polled: no tokens.
  const slow = await start(test, client);
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${slow.user_code}/accept`, { account: "acme" })).statusCode, 200);
  test.clock.advance(600);
  expectError(t, test, await poll(test, client, slow.device_code), "expired_token", 400);
  t.equal(await test.app.domain.db.token.count(), 0, "nothing issued");
});

t.test("invalid_grant: malformed, unknown, another client's device code; an uninstalled installation", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const other = await deviceClient(test, { name: "Other" });
  const started = await start(test, client);
  expectError(t, test, await poll(test, client, "agd_nope"), "invalid_grant", 400);
  const forged = `${started.device_code.slice(0, -1)}${started.device_code.endsWith("A") ? "B" : "A"}`;
  expectError(t, test, await poll(test, client, forged), "invalid_grant", 400, [forged]);
  expectError(t, test, await poll(test, other, started.device_code), "invalid_grant", 400);
  const missing = await tokenRequest(test, { grant_type: DEVICE_CODE_GRANT }, { client });
  expectError(t, test, missing, "invalid_request", 400);

  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/accept`, { account: "acme" });
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${accepted.json().installation_id}`)).statusCode, 204);
  expectError(t, test, await poll(test, client, started.device_code), "invalid_grant", 400);
  t.equal(await test.app.domain.db.token.count(), 0, "nothing issued for an uninstalled installation");
});

t.test("only applications allowed the device grant; 503 until the verification URL is configured", async (t) => {
  const test = await deviceTestApp(t);
  const web = await newClient(test, { client_type: "public", redirect_uris: ["http://127.0.0.1:9000/cb"] });
  expectError(t, test, await startRequest(test, web), "unauthorized_client", 400);
  expectError(t, test, await poll(test, web, "agd_x"), "unauthorized_client", 400);
  expectError(t, test, await startRequest(test, { client_id: "unknown", client_secret: null }), "invalid_client", 401);
  const confidential = await deviceClient(test, { client_type: "confidential" });
  expectError(t, test, await startRequest(test, { client_id: confidential.client_id, client_secret: null }), "invalid_client", 401);
  t.equal(await test.app.domain.db.deviceAuthorization.count(), 0, "no refusal stored anything");

  const unconfigured = await buildTestApp(t);
  const client = await deviceClient(unconfigured);
  expectError(t, unconfigured, await startRequest(unconfigured, client), "temporarily_unavailable", 503);
  const get = await unconfigured.app.inject({ method: "GET", url: "/oauth/device_authorization" });
  t.equal(get.statusCode, 405, "POST only");
});

t.test("30 concurrent polls after the accept: exactly one token pair, the others invalid_grant", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const started = await start(test, client);
  const before = await Promise.all(Array.from({ length: 30 }, () => poll(test, client, started.device_code)));
  t.same([...new Set(before.map((res) => res.json().error))].sort(), ["authorization_pending", "slow_down"], "before: pending (one) or too soon");
  t.equal(before.filter((res) => res.json().error === "authorization_pending").length, 1, "one poll was on time");
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${started.user_code}/accept`, { account: "acme" })).statusCode, 200);

  const after = await Promise.all(Array.from({ length: 30 }, () => poll(test, client, started.device_code)));
  const won = after.filter((res) => res.statusCode === 200);
  t.equal(won.length, 1, "exactly one poll got tokens");
  t.same(
    after.filter((res) => res.statusCode !== 200).map((res) => res.json().error),
    Array(29).fill("invalid_grant"),
    "every other poll: invalid_grant",
  );
  t.equal(await test.app.domain.db.token.count(), 1, "one token pair stored");
});

t.test("user-code guessing is limited per address; the right code still works from elsewhere", async (t) => {
  const test = await deviceTestApp(t, { APPGRANT_DEVICE_LOOKUP_FAILURES: "5" });
  const client = await deviceClient(test);
  const started = await start(test, client);
  const lookup = (code: string, remoteAddress = "203.0.113.7") =>
    test.app.inject({
      method: "GET",
      url: `/admin/v1/device-authorizations/${code}`,
      headers: { authorization: `Bearer ${test.config.adminToken}` },
      remoteAddress,
    });
  const wrong = started.user_code.startsWith("2") ? "3333-3333" : "2222-2222";
  for (let i = 0; i < 5; i++) t.equal((await lookup(wrong)).statusCode, 404, `guess ${i + 1}: not found`);
  const limited = await lookup(wrong);
  t.equal(limited.statusCode, 429, "the sixth guess is refused");
  t.equal(limited.json().code, "rate_limited");
  t.ok(Number(limited.headers["retry-after"]) > 0, "with Retry-After");
  t.equal((await lookup(started.user_code)).statusCode, 429, "even the right code, from the guessing address");
  const accept = await test.app.inject({
    method: "POST",
    url: `/admin/v1/device-authorizations/${started.user_code}/accept`,
    headers: { authorization: `Bearer ${test.config.adminToken}` },
    payload: { account: "acme" },
    remoteAddress: "203.0.113.7",
  });
  t.equal(accept.statusCode, 429, "accept is limited the same way");
  t.equal((await lookup(started.user_code, "198.51.100.1")).statusCode, 200, "another address is not");
  for (const malformed of ["x", "ABCD-EFG!", "IIII-IIII-IIII"])
    t.equal((await lookup(malformed, "198.51.100.2")).statusCode, 404, `${malformed}: 404`);
  test.clock.advance(60);
  t.equal((await lookup(started.user_code)).statusCode, 200, "the next window lets the address in again");
});

/** A GET of the verification page's lookup from `remoteAddress`. */
const lookupFrom = (test: TestApp, code: string, remoteAddress: string) =>
  test.app.inject({
    method: "GET",
    url: `/admin/v1/device-authorizations/${code}`,
    headers: { authorization: `Bearer ${test.config.adminToken}` },
    remoteAddress,
  });

/** `n` well-formed user codes, none of them `except`. */
function wrongCodes(n: number, except: string): string[] {
  const codes: string[] = [];
  for (let i = 0; codes.length < n; i++) {
    const code = `2222-${String(2222 + i)}`;
    if (code !== except) codes.push(code);
  }
  return codes;
}

for (const backend of ["memory", "Redis"] as const) {
  t.test(`user-code guessing in a parallel burst (${backend}): each lookup is counted before it runs, found codes are refunded`, async (t) => {
    const env = {
      APPGRANT_DEVICE_LOOKUP_FAILURES: "5",
      ...(backend === "Redis"
        ? { REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", APPGRANT_REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:` }
        : {}),
    };
    const test = await deviceTestApp(t, env);
    // Through Redis, a second process shares the count (its database knows no code).
    const other = backend === "Redis" ? await deviceTestApp(t, env) : test;
    const client = await deviceClient(test);
    const started = await start(test, client);
    const address = "203.0.113.9";

    // Found codes cost nothing: more lookups than the limit, one after the other, all answered.
    const found = [];
    for (let i = 0; i < 7; i++) found.push((await lookupFrom(test, started.user_code, address)).statusCode);
    t.same(found, Array(7).fill(200), "the right code, looked up more times than the limit");

    // A burst of guesses from one address: eight wrong codes, then the right one, sent at
    // once (through Redis, eight more wrong ones from a second process meanwhile). The old
    // check-then-count looked every one of them up, and answered the right one 200.
    const wrong = wrongCodes(16, started.user_code);
    const burst = await Promise.all([
      ...wrong.map((code, i) => lookupFrom(i % 2 ? other : test, code, address)),
      lookupFrom(test, started.user_code, address),
    ]);
    const statuses = burst.map((res) => res.statusCode);
    t.equal(statuses.filter((status) => status === 404).length, 5, `5 unknown codes looked up, no more (${statuses.join(" ")})`);
    t.equal(statuses.filter((status) => status === 429).length, 12, "the others refused");
    t.equal(statuses.at(-1), 429, "the right code too: its lookup came after five unknown ones");
    t.equal((await lookupFrom(test, started.user_code, address)).statusCode, 429, "the address is now refused");
    t.equal((await lookupFrom(test, started.user_code, "198.51.100.9")).statusCode, 200, "another address is not");
  });
}

t.test("the installation lifecycle: suspended, nothing is issued (then it is, once unsuspended); narrowed, the pair is too", async (t) => {
  const test = await deviceTestApp(t);
  const client = await deviceClient(test);
  const suspended = await start(test, client);
  const accepted = await test.admin("POST", `/admin/v1/device-authorizations/${suspended.user_code}/accept`, { account: "acme" });
  const installationId = accepted.json().installation_id as string;
  t.equal((await test.admin("POST", `/admin/v1/installations/${installationId}/suspend`, {})).statusCode, 200);
  const refused = await poll(test, client, suspended.device_code);
  expectError(t, test, refused, "invalid_grant", 400);
  t.match(refused.json().error_description, /suspended/);
  t.equal(await test.app.domain.db.token.count(), 0, "nothing issued while suspended");
  const another = await start(test, client);
  const onSuspended = await test.admin("POST", `/admin/v1/device-authorizations/${another.user_code}/accept`, { account: "acme" });
  t.equal(onSuspended.statusCode, 409, "a suspended installation is not resumed by a consent");
  t.equal((await test.admin("POST", `/admin/v1/installations/${installationId}/unsuspend`, {})).statusCode, 200);
  expectTokens(t, await poll(test, client, suspended.device_code), { scope: "read write" });

  // Accepted with read write, then the application loses write before the device polls.
  const narrowed = await start(test, client);
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${narrowed.user_code}/accept`, { account: "acme" })).statusCode, 200);
  t.equal((await test.admin("PATCH", `/admin/v1/applications/${client.id}`, { scopes: ["read"] })).statusCode, 200);
  expectTokens(t, await poll(test, client, narrowed.device_code), { scope: "read" });
  await start(test, client);
  t.equal((await deviceRow(test)).scopes, "read", "a new request asks for what the application has");
});
