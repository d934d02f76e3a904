// Access and refresh tokens carry their row's id (a selector) and are found by it, the
// SHA-256 of the whole token compared with the stored one. Tokens issued before selectors
// (their hashes moved to LegacyTokenHash by the migration) keep working everywhere.
import t from "tap";
import { credentialSelector, generateCredential, isWellFormed, sha256 } from "../../src/crypto/tokens.js";
import { newId } from "../../src/shared/ids.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { expectError, expectNothingSecretLogged, expectTokens, isActive, refresh, remember, setup, tokenRow } from "../support/oauth-helper.js";

t.test("issued tokens carry their row's id; another secret under the same selector finds nothing", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const row = await tokenRow(test, tokens.refresh_token);
  t.equal(credentialSelector("accessToken", tokens.access_token), row.id, "the access token names its row");
  t.equal(credentialSelector("refreshToken", tokens.refresh_token), row.id, "so does the refresh token");
  t.equal(row.accessTokenHash, sha256(tokens.access_token), "only the hash is stored");

  const forgedRefresh = generateCredential("refreshToken", row.id);
  const forgedAccess = generateCredential("accessToken", row.id);
  t.ok(isWellFormed("refreshToken", forgedRefresh), "a forged token is well-formed: the checksum is no secret");
  expectError(t, test, await refresh(test, client, forgedRefresh), "invalid_grant", 400);
  t.equal(await isActive(test, forgedAccess), false, "a forged access token is not active");
  t.equal((await tokenRow(test, tokens.refresh_token)).rotatedAt, null, "the row the forgery named is untouched");

  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  const successor = await tokenRow(test, next.refresh_token!);
  t.equal(credentialSelector("refreshToken", next.refresh_token!), successor.id, "a rotation's successor carries its own row's id");
  t.equal(successor.parentId, row.id);
  t.equal(await isActive(test, next.access_token), true);
  expectNothingSecretLogged(t, test);
});

/** A pair as the token_selectors migration leaves one issued before it: legacy-shaped tokens, found through LegacyTokenHash. */
async function legacyPair(test: TestApp, template: string): Promise<{ id: string; access: string; refresh: string }> {
  const db = test.app.domain.db;
  const { id: _, parentId: __, ...fields } = await tokenRow(test, template);
  const access = generateCredential("accessToken");
  const refresh = generateCredential("refreshToken");
  remember(test, access, refresh);
  const id = newId(test.clock().getTime());
  await db.token.create({ data: { ...fields, id, familyId: id, accessTokenHash: sha256(access), refreshTokenHash: sha256(refresh) } });
  await db.legacyTokenHash.createMany({ data: [sha256(access), sha256(refresh)].map((hash) => ({ hash, tokenId: id })) });
  return { id, access, refresh };
}

t.test("a pair issued before selectors is introspected, rotated, retried and its reuse detected", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const legacy = await legacyPair(test, tokens.refresh_token);
  t.equal(credentialSelector("refreshToken", legacy.refresh), null, "no selector in a legacy token");
  t.equal(await isActive(test, legacy.access), true, "its access token is active");
  t.equal(await isActive(test, legacy.refresh), true, "and its refresh token");
  t.equal(await isActive(test, generateCredential("accessToken")), false, "an unknown legacy-shaped token is not");

  const next = expectTokens(t, await refresh(test, client, legacy.refresh));
  const successor = await tokenRow(test, next.refresh_token!);
  t.equal(successor.parentId, legacy.id, "rotated into a successor");
  t.equal(credentialSelector("refreshToken", next.refresh_token!), successor.id, "which carries a selector");
  t.equal(await isActive(test, legacy.access), false, "the rotated pair's access token stops working");

  test.clock.advance(10);
  const retry = expectTokens(t, await refresh(test, client, legacy.refresh));
  t.equal(retry.refresh_token, next.refresh_token, "a retry within the grace period gets the same successor");
  t.equal(retry.access_token, next.access_token);

  test.clock.advance(3600);
  expectError(t, test, await refresh(test, client, legacy.refresh), "invalid_grant", 400);
  t.ok((await tokenRow(test, next.refresh_token!)).revokedAt, "reuse after the grace period revokes the family, successor included");
  expectNothingSecretLogged(t, test);
});

t.test("a pair issued before selectors can be revoked, and its leak reported", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const first = await legacyPair(test, tokens.refresh_token);
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/revoke",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
    },
    payload: `token=${first.access}`,
  });
  t.equal(res.statusCode, 200);
  t.equal((await test.app.domain.db.token.findUniqueOrThrow({ where: { id: first.id } })).revokedReason, "revoked", "RFC 7009 revocation finds it");

  const second = await legacyPair(test, tokens.refresh_token);
  const leaked = await test.app.inject({
    method: "POST",
    url: "/oauth/credentials/revoke",
    remoteAddress: "192.0.2.10",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ credentials: [second.refresh] }),
  });
  t.equal(leaked.statusCode, 202, leaked.body);
  t.equal((await test.app.domain.db.token.findUniqueOrThrow({ where: { id: second.id } })).revokedReason, "leaked", "a public leak report finds it");
  t.equal((await tokenRow(test, tokens.refresh_token)).revokedAt, null, "the template pair is untouched");
});
