// Single use under concurrency: 50 simultaneous requests with one code, or one
// refresh token, through app.inject (Promise.all interleaves them at every await).
import { setImmediate as nextTurn } from "node:timers/promises";
import { Writable } from "node:stream";
import t, { type Test } from "tap";
import { buildApp } from "../../src/main/app.js";
import { sha256 } from "../../src/crypto/tokens.js";
import { openDatabase } from "../../src/storage/database.js";
import type { OAuthStore } from "../../src/oauth/token-store.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import {
  exchange,
  expectNothingSecretLogged,
  expectTokens,
  newClient,
  newInstallation,
  refresh,
  setup,
  tokenRow,
  type TokenBody,
} from "../support/oauth-helper.js";

const N = 50;

/**
 * In one process on SQLite every store call completes synchronously, so the 50
 * requests above mostly run read-to-write one after another. This app (a second
 * "process" on the same database) sees the real store through reads that yield to
 * the event loop before answering, as a networked database would: every request
 * reads the same state before any of them writes, and only the store's
 * conditional writes keep the code and the refresh token single use.
 */
async function withSlowReads(t: Test): Promise<{ test: TestApp; unspentReads: { codes: number; tokens: number } }> {
  const base = await buildTestApp(t);
  const database = await openDatabase(base.config.database);
  const real = database.tokens;
  const unspentReads = { codes: 0, tokens: 0 };
  const tokens: OAuthStore = {
    ...real,
    async findClient(clientId, now) {
      const found = await real.findClient(clientId, now);
      await nextTurn();
      return found;
    },
    async findCodeByHash(codeHash) {
      const grant = await real.findCodeByHash(codeHash);
      if (grant && grant.consumedAt === null) unspentReads.codes++;
      await nextTurn();
      return grant;
    },
    async findTokenByRefresh(lookup) {
      const token = await real.findTokenByRefresh(lookup);
      if (token && token.rotatedAt === null) unspentReads.tokens++;
      await nextTurn();
      return token;
    },
    async findSuccessor(parentId) {
      const successor = await real.findSuccessor(parentId);
      await nextTurn();
      return successor;
    },
  };
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      base.logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({ config: base.config, clock: base.clock, logStream, database: { ...database, tokens } });
  t.teardown(async () => {
    await app.close();
    await database.close();
  });
  return { test: { ...base, app }, unspentReads };
}

t.test(`${N} simultaneous exchanges of one code: exactly one gets tokens`, async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const warm = await newInstallation(test, client);
  expectTokens(t, await exchange(test, client, warm.code)); // the client secret's verification is remembered: the race is on the code alone

  const responses = await Promise.all(
    Array.from({ length: N }, (_, i) => exchange(test, client, installation.code, {}, { auth: i % 2 ? "basic" : "post" })),
  );
  const ok = responses.filter((res) => res.statusCode === 200);
  const refused = responses.filter((res) => res.statusCode !== 200);
  t.equal(ok.length, 1, "exactly one 200");
  t.ok(
    refused.every((res) => res.statusCode === 400 && res.json().error === "invalid_grant"),
    `every other answer is invalid_grant (${[...new Set(refused.map((res) => `${res.statusCode} ${res.json().error}`))].join(", ")})`,
  );
  const grant = await test.app.domain.db.authorizationCode.findUniqueOrThrow({ where: { codeHash: sha256(installation.code) } });
  t.equal(await test.app.domain.db.token.count({ where: { codeId: grant.id } }), 1, "one token row was issued from the code");
  const winner = ok[0]!.json() as TokenBody;
  t.equal((await tokenRow(test, winner.refresh_token)).accessTokenHash, sha256(winner.access_token), "the row is the winner's pair");
  // RFC 6749 §10.5: the other 49 were uses of a spent code, so what it issued is revoked.
  t.ok((await tokenRow(test, winner.refresh_token)).revokedAt, "the code was used more than once: its tokens are revoked");
  const refreshed = await refresh(test, client, winner.refresh_token);
  t.equal(refreshed.json().error, "invalid_grant");
  expectNothingSecretLogged(t, test);
});

t.test(`${N} simultaneous exchanges of ${N} different codes all succeed`, async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installations = [];
  for (let i = 0; i < N; i++) installations.push(await newInstallation(test, client));
  const responses = await Promise.all(installations.map((installation) => exchange(test, client, installation.code)));
  t.same(
    responses.map((res) => res.statusCode),
    Array(N).fill(200),
    "no request is refused for another's sake",
  );
  t.equal(new Set(responses.map((res) => res.json().access_token)).size, N, "every pair is distinct");
  t.equal(await test.app.domain.db.token.count(), N);
});

t.test(`${N} simultaneous refreshes of one token: one successor, every success is that pair`, async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  test.clock.advance(3600);
  const responses = await Promise.all(
    Array.from({ length: N }, (_, i) => refresh(test, client, tokens.refresh_token, {}, { auth: i % 2 ? "basic" : "post" })),
  );
  const ok = responses.filter((res) => res.statusCode === 200).map((res) => res.json() as TokenBody);
  const refused = responses.filter((res) => res.statusCode !== 200);
  t.ok(ok.length >= 1, `at least one refresh succeeds (${ok.length} did)`);
  t.equal(new Set(ok.map((body) => `${body.access_token} ${body.refresh_token}`)).size, 1, "every 200 carries the identical pair");
  t.ok(
    refused.every((res) => res.statusCode >= 400 && typeof res.json().error === "string"),
    "every other answer is an OAuth error",
  );
  const parent = await tokenRow(test, tokens.refresh_token);
  t.equal(await test.app.domain.db.token.count({ where: { parentId: parent.id } }), 1, "exactly one successor row");
  const successor = await tokenRow(test, ok[0]!.refresh_token);
  t.equal(successor.parentId, parent.id, "the pair answered is that successor");
  t.equal(successor.accessTokenHash, sha256(ok[0]!.access_token));
  t.equal(successor.revokedAt, null, "concurrent retries within the grace period are not reuse");
  expectTokens(t, await refresh(test, client, ok[0]!.refresh_token));
  t.pass("the successor refreshes afterwards");
  expectNothingSecretLogged(t, test);
});

t.test(`${N} simultaneous refreshes with the grace period disabled still make one successor`, async (t) => {
  const test = await buildTestApp(t, { APPGRANT_REFRESH_GRACE_PERIOD: "0" });
  const { client, tokens } = await setup(test);
  const responses = await Promise.all(Array.from({ length: N }, () => refresh(test, client, tokens.refresh_token)));
  const ok = responses.filter((res) => res.statusCode === 200);
  t.ok(ok.length <= 1, `at most one 200 (${ok.length})`);
  t.ok(
    responses.filter((res) => res.statusCode !== 200).every((res) => res.statusCode === 400 && res.json().error === "invalid_grant"),
    "every other answer is invalid_grant",
  );
  const parent = await tokenRow(test, tokens.refresh_token);
  t.equal(await test.app.domain.db.token.count({ where: { parentId: parent.id } }), 1, "exactly one successor row");
});

t.test(`${N} simultaneous refreshes of a token and of its successor, with reuse outside the grace period`, async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const next = expectTokens(t, await refresh(test, client, tokens.refresh_token));
  test.clock.advance(61);
  const responses = await Promise.all(Array.from({ length: N }, (_, i) => refresh(test, client, i % 2 ? next.refresh_token : tokens.refresh_token)));
  const rows = await test.app.domain.db.token.findMany();
  const successorsOfNext = rows.filter((row) => row.parentId === rows.find((r) => r.generation === 2)!.id);
  t.ok(successorsOfNext.length <= 1, "at most one successor of the second generation");
  t.ok(
    rows.every((row) => row.revokedAt !== null),
    "reuse revoked the whole family, including anything issued in the race",
  );
  for (const res of responses.filter((r) => r.statusCode === 200)) {
    const body = res.json() as TokenBody;
    const refused = await refresh(test, client, body.refresh_token);
    t.equal(refused.json().error, "invalid_grant", "a pair handed out during the race is dead too");
  }
});

t.test(`${N} simultaneous exchanges of one code against a store with I/O latency: exactly one gets tokens`, async (t) => {
  const { test, unspentReads } = await withSlowReads(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const warm = await newInstallation(test, client);
  expectTokens(t, await exchange(test, client, warm.code));
  unspentReads.codes = 0;

  const responses = await Promise.all(Array.from({ length: N }, () => exchange(test, client, installation.code)));
  t.ok(unspentReads.codes > 1, `the race was real: ${unspentReads.codes} requests read the code as unspent`);
  const ok = responses.filter((res) => res.statusCode === 200);
  t.equal(ok.length, 1, "exactly one 200");
  t.ok(
    responses.filter((res) => res.statusCode !== 200).every((res) => res.statusCode === 400 && res.json().error === "invalid_grant"),
    "the rest invalid_grant",
  );
  const grant = await test.app.domain.db.authorizationCode.findUniqueOrThrow({ where: { codeHash: sha256(installation.code) } });
  t.equal(await test.app.domain.db.token.count({ where: { codeId: grant.id } }), 1, "one token row was issued from the code");
  t.ok((await tokenRow(test, ok[0]!.json().refresh_token)).revokedAt, "the losers were second uses: the winner's tokens are revoked");
});

t.test(`${N} simultaneous refreshes of one token against a store with I/O latency: one successor, one pair`, async (t) => {
  const { test, unspentReads } = await withSlowReads(t);
  const { client, tokens } = await setup(test);
  unspentReads.tokens = 0;
  const responses = await Promise.all(Array.from({ length: N }, () => refresh(test, client, tokens.refresh_token)));
  t.ok(unspentReads.tokens > 1, `the race was real: ${unspentReads.tokens} requests read the token as unrotated`);
  const ok = responses.filter((res) => res.statusCode === 200).map((res) => res.json() as TokenBody);
  t.ok(ok.length >= 1, `at least one refresh succeeds (${ok.length} did)`);
  t.equal(new Set(ok.map((body) => `${body.access_token} ${body.refresh_token}`)).size, 1, "every 200 carries the identical pair");
  t.ok(
    responses.filter((res) => res.statusCode !== 200).every((res) => res.statusCode >= 400 && typeof res.json().error === "string"),
    "the rest are OAuth errors",
  );
  const parent = await tokenRow(test, tokens.refresh_token);
  t.equal(await test.app.domain.db.token.count({ where: { parentId: parent.id } }), 1, "exactly one successor row");
  t.equal((await tokenRow(test, ok[0]!.refresh_token)).parentId, parent.id);
  expectTokens(t, await refresh(test, client, ok[0]!.refresh_token));
  t.pass("the successor works afterwards: the race was not mistaken for reuse");
  expectNothingSecretLogged(t, test);
});
