// grant_type=refresh_token (RFC 6749 §6): rotation, scope narrowing, expiry, reuse
// detection (RFC 9700 §4.14.2), idempotent retry within the grace period, and
// revocation by uninstall and application deletion.
import t from "tap";
import { generateCredential } from "../../src/crypto/tokens.js";
import { buildTestApp } from "../support/helper.js";
import {
  exchange,
  expectError,
  expectNothingSecretLogged,
  expectTokens,
  failTokenInserts,
  isActive,
  newClient,
  newInstallation,
  refresh,
  remember,
  setup,
  tokenRow,
} from "../support/oauth-helper.js";

const HOUR = 3600;
const DAY = 86_400;

t.test("refreshes after the access token has expired", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  test.clock.advance(8 * HOUR + 1);
  const refreshed = expectTokens(t, await refresh(test, client, tokens.refresh_token), { installation_id: installation.id, scope: "read write" });
  t.equal(refreshed.expires_in, 8 * HOUR);
});

t.test("rotation returns a new pair; the old refresh token stops working", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  test.clock.advance(HOUR);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  t.not(next.access_token, tokens.access_token);
  t.not(next.refresh_token, tokens.refresh_token);

  const parent = await tokenRow(test, tokens.refresh_token);
  const child = await tokenRow(test, next.refresh_token);
  t.ok(parent.rotatedAt, "the parent is marked rotated (its access token stops working with it)");
  t.equal(parent.revokedAt, null, "rotation is not revocation");
  t.equal(child.generation, parent.generation + 1, "generation parent + 1");
  t.equal(child.parentId, parent.id, "parentId is the parent's id");
  t.equal(child.familyId, parent.familyId, "same family");
  t.equal(child.codeId, parent.codeId, "descends from the same code");
  t.equal(child.installationId, parent.installationId);
  t.equal(child.rotatedAt, null);

  t.notOk(await isActive(test, tokens.access_token), "the old access token stops working at once");
  t.ok(await isActive(test, next.access_token), "the new access token works");
  t.ok(await isActive(test, next.refresh_token), "the new refresh token works");

  test.clock.advance(61);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  t.pass("outside the grace period the old refresh token is refused");
});

t.test("a chain of rotations keeps counting generations in one family", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  let current = tokens;
  for (let i = 0; i < 4; i++) {
    test.clock.advance(HOUR);
    current = expectTokens(t, await refresh(test, client, current.refresh_token));
  }
  const rows = await test.app.domain.db.token.findMany({ orderBy: { generation: "asc" } });
  t.same(
    rows.map((row) => row.generation),
    [1, 2, 3, 4, 5],
  );
  t.equal(new Set(rows.map((row) => row.familyId)).size, 1, "one family");
  for (let i = 1; i < rows.length; i++) t.equal(rows[i]!.parentId, rows[i - 1]!.id, `generation ${i + 1} points at generation ${i}`);
  t.same(
    rows.map((row) => row.rotatedAt === null),
    [false, false, false, false, true],
    "only the newest is unrotated",
  );
});

t.test("scope may narrow, never broaden", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test, { app: { scopes: ["read", "write", "admin"] }, install: { scopes: ["read", "write"] } });
  const refused = [
    { scope: "read write admin", why: "broadening" },
    { scope: "admin", why: "a scope of the application the installation lacks" },
    { scope: "delete", why: "an unknown scope" },
    { scope: "READ", why: "scopes are case-sensitive" },
    { scope: "read,write", why: "comma is not a separator" },
    { scope: "   ", why: "only spaces" },
  ];
  for (const c of refused) {
    expectError(t, test, await refresh(test, client, tokens.refresh_token, { scope: c.scope }), "invalid_scope", 400, [c.scope]);
  }
  const narrowed = expectTokens(t, await refresh(test, client, tokens.refresh_token, { scope: "read" }), { scope: "read" });
  t.pass("the refused requests did not spend the refresh token");
  t.equal((await tokenRow(test, narrowed.refresh_token)).scopes, "read", "the narrowed scope is stored");
  test.clock.advance(HOUR);
  const kept = expectTokens(t, await refresh(test, client, narrowed.refresh_token), { scope: "read" });
  t.pass("without scope, a refresh keeps the current scope");
  const same = expectTokens(t, await refresh(test, client, kept.refresh_token, { scope: "read read" }), { scope: "read" });
  t.ok(same, "repeating a scope is not broadening");
});

t.test("asking for the same scopes in another order or spacing is allowed", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const refreshed = expectTokens(t, await refresh(test, client, tokens.refresh_token, { scope: "write  read " }));
  t.same(refreshed.scope.split(" ").sort(), ["read", "write"]);
});

t.test("refuses an expired refresh token", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const { client: other, tokens: othersTokens } = await setup(test);
  test.clock.advance(180 * DAY - 1);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
  t.pass("a refresh token is good until its lifetime ends");
  test.clock.advance(1);
  expectError(t, test, await refresh(test, other, othersTokens.refresh_token), "invalid_grant", 400);
  t.equal((await tokenRow(test, othersTokens.refresh_token)).rotatedAt, null, "nothing rotated");
});

t.test("the refresh token lifetime follows configuration, and counts from each rotation", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_REFRESH_TOKEN_LIFETIME: String(2 * DAY) });
  const { client, tokens } = await setup(test);
  test.clock.advance(2 * DAY - 1);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(2 * DAY - 1);
  const last = expectTokens(t, await refresh(test, client, next.refresh_token));
  test.clock.advance(2 * DAY);
  expectError(t, test, await refresh(test, client, last.refresh_token), "invalid_grant", 400);
});

t.test("refuses unknown or malformed refresh tokens, and another client's", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const { client: other, tokens: othersTokens } = await setup(test);
  const rt = tokens.refresh_token;
  const cases = [
    generateCredential("refreshToken"),
    rt.slice(0, -1),
    `${rt}0`,
    rt.replace(/^agr_/, "aga_"),
    tokens.access_token,
    rt.slice(0, 10) + (rt[10] === "A" ? "B" : "A") + rt.slice(11),
    "agr_",
    "x",
  ];
  for (const value of cases) expectError(t, test, await refresh(test, client, value), "invalid_grant", 400, [value]);
  expectError(t, test, await refresh(test, other, rt), "invalid_grant", 400);
  t.equal((await tokenRow(test, rt)).rotatedAt, null, "another client's attempt does not rotate it");
  expectTokens(t, await refresh(test, client, rt));
  expectTokens(t, await refresh(test, other, othersTokens.refresh_token));
});

t.test("reuse of a rotated refresh token outside the grace period revokes the whole family", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const { tokens: bystander } = await setup(test, { app: {} });
  const second = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(HOUR);
  const third = expectTokens(t, await refresh(test, client, second.refresh_token));
  test.clock.advance(61);

  const reuse = expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  t.match(reuse.error_description, /used|revoked/);
  const familyId = (await tokenRow(test, tokens.refresh_token)).familyId;
  const family = await test.app.domain.db.token.findMany({ where: { familyId } });
  t.equal(family.length, 3);
  for (const row of family) {
    t.ok(row.revokedAt, `generation ${row.generation} has revokedAt set`);
    t.equal(row.revokedReason, "refresh_reused");
  }
  expectError(t, test, await refresh(test, client, third.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, second.refresh_token), "invalid_grant", 400);
  t.equal(await test.app.domain.db.token.count({ where: { familyId } }), 3, "no token was issued after the reuse");
  t.notOk(await isActive(test, third.access_token), "the newest access token of the family is dead too");
  t.ok(await isActive(test, bystander.access_token), "another family's access token still works");
  t.equal((await tokenRow(test, bystander.refresh_token)).revokedAt, null, "other families are untouched");
  expectNothingSecretLogged(t, test);
});

t.test("a rotated refresh token presented by another client does not revoke the family", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const other = await newClient(test);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(61);
  expectError(t, test, await refresh(test, other, tokens.refresh_token), "invalid_grant", 400);
  t.equal((await tokenRow(test, next.refresh_token)).revokedAt, null);
  expectTokens(t, await refresh(test, client, next.refresh_token));
});

t.test("a retry within the grace period returns the identical pair", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  const first = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  for (const seconds of [0, 1, 30, 28]) {
    test.clock.advance(seconds);
    const retry = expectTokens(t, await refresh(test, client, tokens.refresh_token, {}, { auth: "post" }), { installation_id: installation.id });
    t.equal(retry.access_token, first.access_token, `+${seconds} s: same access token`);
    t.equal(retry.refresh_token, first.refresh_token, `+${seconds} s: same refresh token`);
    t.equal(retry.scope, first.scope);
  }
  const parent = await tokenRow(test, tokens.refresh_token);
  t.equal(await test.app.domain.db.token.count({ where: { parentId: parent.id } }), 1, "still exactly one successor");
  t.equal(parent.revokedAt, null, "a retry is not reuse");
  test.clock.advance(1); // 60 s after the rotation: the window has closed
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, first.refresh_token), "invalid_grant", 400);
  t.pass("at the end of the grace period the retry is reuse, and the successor is revoked with the family");
});

t.test("the successor from a grace-period retry works like any other", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(10);
  const retried = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(HOUR);
  const next = expectTokens(t, await refresh(test, client, retried.refresh_token));
  t.equal((await tokenRow(test, next.refresh_token)).generation, 3);
});

t.test("a retry after the successor itself was rotated is reuse: the family is revoked", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const second = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(5);
  const third = expectTokens(t, await refresh(test, client, second.refresh_token));
  test.clock.advance(5);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, third.refresh_token), "invalid_grant", 400);
  const rows = await test.app.domain.db.token.findMany();
  t.ok(
    rows.every((row) => row.revokedAt !== null),
    "every token of the family is revoked",
  );
});

t.test("a retry after the family was revoked does not resurrect it", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(5);
  expectError(t, test, await exchange(test, client, installation.code), "invalid_grant", 400); // code reuse revokes the family
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
});

t.test("with the grace period disabled, an immediate retry is reuse", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_REFRESH_GRACE_PERIOD: "0" });
  const { client, tokens } = await setup(test);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, next.refresh_token), "invalid_grant", 400);
  const rows = await test.app.domain.db.token.findMany();
  t.ok(rows.every((row) => row.revokedReason === "refresh_reused"));
});

t.test("the grace period follows configuration", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_REFRESH_GRACE_PERIOD: "5" });
  const { client, tokens } = await setup(test);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(4);
  t.equal(expectTokens(t, await refresh(test, client, tokens.refresh_token)).refresh_token, next.refresh_token);
  test.clock.advance(1);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
});

t.test("uninstalling revokes the installation's refresh tokens", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  const rotated = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  const kept = await newInstallation(test, client);
  const keptTokens = expectTokens(t, await exchange(test, client, kept.code));
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${installation.id}`)).statusCode, 204);
  expectError(t, test, await refresh(test, client, rotated.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
  t.ok((await tokenRow(test, rotated.refresh_token)).revokedAt);
  t.notOk(await isActive(test, rotated.access_token), "its access token stops working");
  expectTokens(t, await refresh(test, client, keptTokens.refresh_token));
  t.pass("the application's other installations keep working");
});

t.test("a grace-period retry after uninstall is refused", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
  await test.admin("DELETE", `/admin/v1/installations/${installation.id}`);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_grant", 400);
});

t.test("deleting the application makes its refresh tokens unusable", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const { client: other, tokens: othersTokens } = await setup(test);
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${client.id}`)).statusCode, 204);
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "invalid_client", 401);
  t.notOk(await isActive(test, tokens.access_token), "its access token stops working");
  expectError(t, test, await refresh(test, other, tokens.refresh_token), "invalid_grant", 400);
  expectTokens(t, await refresh(test, other, othersTokens.refresh_token));
});

t.test("a refresh token keeps working while its installation's newer code is reissued", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  const reissued = await test.admin("POST", `/admin/v1/installations/${installation.id}/code`);
  remember(test, reissued.json().code);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
});

t.test("rotating the refresh token and issuing its successor is one transaction", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const restore = await failTokenInserts(test, "no successor today");
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "server_error", 500);
  const parent = await tokenRow(test, tokens.refresh_token);
  t.equal(parent.rotatedAt, null, "the failed attempt did not rotate the parent");
  t.equal(await test.app.domain.db.token.count({ where: { parentId: parent.id } }), 0);
  t.ok(await isActive(test, tokens.access_token), "its access token still works");
  await restore();
  test.clock.advance(120);
  expectTokens(t, await refresh(test, client, tokens.refresh_token));
  t.pass("the refresh token is still good, and using it later is not mistaken for reuse");
});
