// grant_type=authorization_code (RFC 6749 §4.1.3, §10.5; RFC 7636 PKCE).
import t, { type Test } from "tap";
import { generateCredential, sha256 } from "../../src/crypto/tokens.js";
import { s256 } from "../../src/oauth/pkce.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
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
  tokenRow,
  directCode,
} from "../support/oauth-helper.js";

const grantOf = (test: TestApp, code: string) => test.app.domain.db.authorizationCode.findUniqueOrThrow({ where: { codeHash: sha256(code) } });

async function expectUnspent(t: Test, test: TestApp, code: string): Promise<void> {
  const grant = await grantOf(test, code);
  t.equal(grant.consumedAt, null, "the code is not consumed");
  t.equal(await test.app.domain.db.token.count({ where: { codeId: grant.id } }), 0, "no token was issued from it");
}

t.test("exchanges a code for tokens carrying the installation's scopes, storing only hashes", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test, { scopes: ["read", "write", "admin"] });
  const installation = await newInstallation(test, client, { scopes: ["write", "read"] });
  const tokens = expectTokens(t, await exchange(test, client, installation.code), { installation_id: installation.id });
  t.same(tokens.scope.split(" ").sort(), ["read", "write"], "the installation's scopes, not the application's");

  const grant = await grantOf(test, installation.code);
  t.ok(grant.consumedAt, "the code is consumed");
  const row = await tokenRow(test, tokens.refresh_token);
  t.match(row, {
    accessTokenHash: sha256(tokens.access_token),
    applicationId: client.id,
    installationId: installation.id,
    codeId: grant.id,
    familyId: grant.id,
    generation: 1,
    parentId: null,
    rotatedAt: null,
    revokedAt: null,
  });
  t.equal(row.accessExpiresAt.getTime() - test.clock().getTime(), 8 * 3600_000, "access token expires in 8 h");
  t.equal(row.refreshExpiresAt.getTime() - test.clock().getTime(), 180 * 86_400_000, "refresh token expires in 180 days");
  const stored = JSON.stringify(await test.app.domain.db.token.findMany());
  t.notOk(stored.includes(tokens.access_token) || stored.includes(tokens.refresh_token), "no token is stored in plaintext");
});

t.test("refuses unknown and malformed codes as invalid_grant", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const tokens = expectTokens(t, await exchange(test, client, (await newInstallation(test, client)).code));
  const code = installation.code;
  const flip = (value: string, at: number) => value.slice(0, at) + (value[at] === "A" ? "B" : "A") + value.slice(at + 1);
  const cases = [
    { name: "a well-formed code never issued", code: generateCredential("code") },
    { name: "wrong checksum", code: flip(code, code.length - 1) },
    { name: "one body character changed", code: flip(code, 10) },
    { name: "truncated", code: code.slice(0, -1) },
    { name: "extended", code: `${code}A` },
    { name: "the code's hash", code: sha256(code) },
    { name: "another prefix", code: code.replace(/^agc_/, "agr_") },
    { name: "a refresh token", code: tokens.refresh_token },
    { name: "an access token", code: tokens.access_token },
    { name: "garbage", code: "not a code" },
    { name: "surrounding whitespace", code: ` ${code} ` },
  ];
  for (const c of cases) {
    const body = expectError(t, test, await exchange(test, client, c.code), "invalid_grant", 400, [c.code]);
    t.notMatch(body.error_description, /expired|used/, `${c.name}: ${body.error_description}`);
  }
  await expectUnspent(t, test, code);
  expectTokens(t, await exchange(test, client, code));
});

t.test("refuses a code issued to another client, without consuming it", async (t) => {
  const test = await buildTestApp(t);
  const owner = await newClient(test);
  const thief = await newClient(test);
  const installation = await newInstallation(test, owner);
  const stolen = expectError(t, test, await exchange(test, thief, installation.code), "invalid_grant", 400);
  const unknown = expectError(t, test, await exchange(test, thief, generateCredential("code")), "invalid_grant", 400);
  t.equal(stolen.error_description, unknown.error_description, "answered exactly like an unknown code: no oracle");
  expectError(t, test, await exchange(test, thief, installation.code, {}, { auth: "post" }), "invalid_grant", 400);
  await expectUnspent(t, test, installation.code);
  expectTokens(t, await exchange(test, owner, installation.code), { installation_id: installation.id });
});

t.test("refuses an expired code, saying it expired", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const early = await newInstallation(test, client);
  const late = await newInstallation(test, client);
  test.clock.advance(599);
  expectTokens(t, await exchange(test, client, early.code));
  t.pass("a code is good until its lifetime ends");
  test.clock.advance(2);
  const body = expectError(t, test, await exchange(test, client, late.code), "invalid_grant", 400);
  t.match(body.error_description, /expired/i);
  await expectUnspent(t, test, late.code);
});

t.test("a code's lifetime follows configuration", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_CODE_LIFETIME: "30" });
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  test.clock.advance(31);
  t.match(expectError(t, test, await exchange(test, client, installation.code), "invalid_grant", 400).error_description, /expired/i);
});

t.test("a code is single use: the second use is refused and revokes everything issued from it", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const unrelated = await newInstallation(test, client);
  const first = expectTokens(t, await exchange(test, client, installation.code));
  const keep = expectTokens(t, await exchange(test, client, unrelated.code));
  const successor = expectTokens(t, await refresh(test, client, first.refresh_token));
  test.clock.advance(5);

  const second = expectError(t, test, await exchange(test, client, installation.code), "invalid_grant", 400);
  t.match(second.error_description, /used/);
  const grant = await grantOf(test, installation.code);
  const rows = await test.app.domain.db.token.findMany({ where: { familyId: grant.id } });
  t.equal(rows.length, 2, "the pair from the code and its rotated successor");
  for (const row of rows) {
    t.ok(row.revokedAt, `generation ${row.generation} is revoked`);
    t.equal(row.revokedReason, "code_reused");
  }
  t.notOk(await isActive(test, successor.access_token), "the newest access token from the code stops working");
  expectError(t, test, await refresh(test, client, successor.refresh_token), "invalid_grant", 400);
  expectError(t, test, await refresh(test, client, first.refresh_token), "invalid_grant", 400);
  expectError(t, test, await exchange(test, client, installation.code), "invalid_grant", 400);
  expectTokens(t, await refresh(test, client, keep.refresh_token));
  t.pass("tokens of another code are untouched");
  expectNothingSecretLogged(t, test);
});

t.test("another client presenting a spent code cannot get the owner's tokens revoked", async (t) => {
  const test = await buildTestApp(t);
  const owner = await newClient(test);
  const other = await newClient(test);
  const installation = await newInstallation(test, owner);
  const tokens = expectTokens(t, await exchange(test, owner, installation.code));
  expectError(t, test, await exchange(test, other, installation.code), "invalid_grant", 400);
  t.equal((await tokenRow(test, tokens.refresh_token)).revokedAt, null);
  expectTokens(t, await refresh(test, owner, tokens.refresh_token));
});

t.test("refuses the code of an uninstalled installation, and of a reissued one", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const gone = await newInstallation(test, client);
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${gone.id}`)).statusCode, 204);
  expectError(t, test, await exchange(test, client, gone.code), "invalid_grant", 400);
  await expectUnspent(t, test, gone.code);

  const live = await newInstallation(test, client);
  const reissued = await test.admin("POST", `/admin/v1/installations/${live.id}/code`);
  t.equal(reissued.statusCode, 201);
  remember(test, reissued.json().code);
  expectError(t, test, await exchange(test, client, live.code), "invalid_grant", 400);
  expectTokens(t, await exchange(test, client, reissued.json().code), { installation_id: live.id });
  t.pass("only the newest code of an installation is exchangeable");
});

t.test("a code bound to a redirect_uri needs the identical redirect_uri", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const redirectUri = "https://app.example/callback?tenant=a";
  const code = await directCode(test, installation.id, { redirectUri });
  const wrong = [
    "https://app.example/callback",
    "https://app.example/callback?tenant=b",
    "https://app.example/callback?tenant=a&x=1",
    "https://APP.example/callback?tenant=a",
    "https://app.example/callback/?tenant=a",
    "https://app.example/callback?tenant=a#",
    "https://app.example:443/callback?tenant=a",
    "https://app.example/callback%3Ftenant=a",
    `${redirectUri} `,
  ];
  expectError(t, test, await exchange(test, client, code), "invalid_grant", 400);
  for (const uri of wrong) {
    const body = expectError(t, test, await exchange(test, client, code, { redirect_uri: uri }), "invalid_grant", 400);
    t.match(body.error_description, /redirect_uri/, uri);
  }
  await expectUnspent(t, test, code);
  expectTokens(t, await exchange(test, client, code, { redirect_uri: redirectUri }), { installation_id: installation.id });

  const unbound = await newInstallation(test, client);
  expectTokens(t, await exchange(test, client, unbound.code, { redirect_uri: "https://anything.example/" }));
  t.pass("a code not bound to a redirect_uri ignores one sent anyway");
});

t.test("a code issued with a PKCE challenge needs the matching code_verifier", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"; // RFC 7636 Appendix B
  t.equal(s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "s256 is RFC 7636's S256");
  const code = await directCode(test, installation.id, { codeChallenge: s256(verifier), codeChallengeMethod: "S256" });
  remember(test, verifier);
  const otherVerifier = "x".repeat(43);
  const grantCases: { name: string; extra: Record<string, string> }[] = [
    { name: "missing", extra: {} },
    { name: "wrong", extra: { code_verifier: otherVerifier } },
    { name: "the challenge itself", extra: { code_verifier: s256(verifier) } },
    { name: "one character off", extra: { code_verifier: `${verifier.slice(0, -1)}Y` } },
    { name: "the verifier with something appended", extra: { code_verifier: `${verifier}A` } },
  ];
  for (const c of grantCases) {
    expectError(t, test, await exchange(test, client, code, c.extra), "invalid_grant", 400, [verifier]);
  }
  for (const malformed of ["short", "a".repeat(129), `${verifier.slice(0, 42)}!`]) {
    const res = await exchange(test, client, code, { code_verifier: malformed });
    t.equal(res.statusCode, 400, "a malformed verifier is refused");
    t.ok(["invalid_request", "invalid_grant"].includes(res.json().error), `as ${res.json().error}`);
  }
  await expectUnspent(t, test, code);
  expectTokens(t, await exchange(test, client, code, { code_verifier: verifier }), { installation_id: installation.id });
});

t.test("refuses a code_verifier for a code issued without a challenge (no PKCE downgrade)", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  expectError(t, test, await exchange(test, client, installation.code, { code_verifier: verifier }), "invalid_grant", 400);
  await expectUnspent(t, test, installation.code);
  expectTokens(t, await exchange(test, client, installation.code));
});

t.test("a code with both bindings needs both, and a public client with PKCE works by client_id", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test, { client_type: "public" });
  const installation = await newInstallation(test, client);
  const verifier = `${"A".repeat(20)}-._~${"z".repeat(30)}`;
  const redirectUri = "https://app.example/callback";
  const code = await directCode(test, installation.id, { redirectUri, codeChallenge: s256(verifier), codeChallengeMethod: "S256" });
  expectError(t, test, await exchange(test, client, code, { code_verifier: verifier }), "invalid_grant", 400);
  expectError(t, test, await exchange(test, client, code, { redirect_uri: redirectUri }), "invalid_grant", 400);
  expectTokens(t, await exchange(test, client, code, { redirect_uri: redirectUri, code_verifier: verifier }));
});

t.test("consuming the code and issuing the tokens is one transaction", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const restore = await failTokenInserts(test, "no tokens today");
  expectError(t, test, await exchange(test, client, installation.code), "server_error", 500);
  await expectUnspent(t, test, installation.code);
  await restore();
  expectTokens(t, await exchange(test, client, installation.code), { installation_id: installation.id });
  t.pass("the failed attempt did not spend the code");
});
