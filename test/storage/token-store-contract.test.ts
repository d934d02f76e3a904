// The TokenStore contract: the same cases against each store, on SQLite always and on
// PostgreSQL too when TEST_DATABASE_URL is set. Rows are seeded through Prisma (as the
// admin API writes them) and read back through the store's plain SQL, so a column the
// store reads under the wrong name, or a DateTime in the wrong form, fails here.
import { mkdtempSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { sha256 } from "../../src/crypto/tokens.js";
import type { NewToken, OAuthStore, TokenLookup } from "../../src/oauth/token-store.js";
import { newId } from "../../src/shared/ids.js";
import type { Db } from "../../src/storage/client.js";
import { openDatabase } from "../../src/storage/database.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { createPool } from "../../src/storage/postgres.js";
import { createPostgresTokenStore } from "../../src/storage/postgres-token-store.js";
import { DEFAULT_DATABASE_SETTINGS, parseDatabaseUrl, parsePostgresUrl } from "../../src/storage/settings.js";
import { freshDatabase } from "../support/helper.js";

const NOW = new Date("2026-03-01T12:00:00.123Z");
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

async function freshSqlite(t: Test): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-contract-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `file:${join(dir, "test.db")}`;
  await migrateDatabase(parseDatabaseUrl(url));
  return url;
}

const DATABASES: [name: string, fresh: (t: Test) => Promise<string>][] = [["sqlite", freshSqlite]];
if (process.env.TEST_DATABASE_URL) DATABASES.push(["postgresql", freshDatabase]);

interface Seeded {
  applicationId: string;
  clientId: string;
  installationId: string;
  codeId: string;
  codeHash: string;
}

/** An application, one installation of it into `account`, and an unexpired code for it. */
async function seed(db: Db, account: string, code: { expiresAt?: Date; revokedAt?: Date | null } = {}): Promise<Seeded> {
  const applicationId = newId();
  const clientId = `client-${account}`;
  await db.application.create({
    data: {
      id: applicationId,
      clientId,
      name: account,
      clientType: "confidential",
      redirectUris: "https://app.example/callback",
      scopes: "read write",
      grantTypes: "authorization_code refresh_token",
      createdAt: at(-3600),
      updatedAt: at(-3600),
    },
  });
  const installationId = newId();
  await db.installation.create({
    data: { id: installationId, applicationId, account, scopes: "read write", status: "active", activeAccount: account, createdAt: at(-60) },
  });
  const codeId = newId();
  const codeHash = sha256(`code-${account}`);
  await db.authorizationCode.create({
    data: {
      id: codeId,
      codeHash,
      applicationId,
      installationId,
      scopes: "read",
      redirectUri: "https://app.example/callback",
      codeChallenge: "challenge",
      codeChallengeMethod: "S256",
      createdAt: at(-10),
      expiresAt: code.expiresAt ?? at(600),
      revokedAt: code.revokedAt ?? null,
    },
  });
  return { applicationId, clientId, installationId, codeId, codeHash };
}

/** The row id of each token hash newToken made: the selector its token would carry. */
const selectors = new Map<string, string>();

/** How the server would look up the token whose SHA-256 is `hash`: by its selector (a random one for a hash never issued). */
const lookup = (hash: string): TokenLookup => ({ selector: selectors.get(hash) ?? newId(), hash });

function newToken(s: Seeded, name: string, extra: Partial<Omit<NewToken, "refreshTokenHash">> = {}): NewToken & { refreshTokenHash: string } {
  const id = extra.id ?? newId();
  selectors.set(sha256(`access-${name}`), id);
  selectors.set(sha256(`refresh-${name}`), id);
  return {
    id,
    accessTokenHash: sha256(`access-${name}`),
    refreshTokenHash: sha256(`refresh-${name}`),
    applicationId: s.applicationId,
    installationId: s.installationId,
    clientId: s.clientId,
    account: name.split("-")[0]!,
    codeId: s.codeId,
    familyId: `family-${name}`,
    generation: 1,
    parentId: null,
    scopes: "read",
    createdAt: NOW,
    accessExpiresAt: at(3600),
    refreshExpiresAt: at(86_400),
    ...extra,
  };
}

const introspected = (token: NewToken, rotatedAt: Date | null = null, revokedAt: Date | null = null, installationActive = true) => ({
  id: token.id,
  installationActive,
  applicationId: token.applicationId,
  clientId: token.clientId,
  installationId: token.installationId,
  account: token.account,
  familyId: token.familyId,
  scopes: token.scopes,
  createdAt: token.createdAt,
  accessExpiresAt: token.accessExpiresAt,
  refreshExpiresAt: token.refreshExpiresAt,
  rotatedAt,
  revokedAt,
});

for (const [name, fresh] of DATABASES) {
  t.test(name, async (t) => {
    const url = await fresh(t);
    const database = await openDatabase(parseDatabaseUrl(url));
    t.teardown(() => database.close());
    const db = database.prisma;
    const store: OAuthStore = database.tokens;

    t.test("finds a client by client_id with the hashes of its active secrets only", async (t) => {
      const s = await seed(db, "client");
      const laterId = newId();
      await db.clientSecret.createMany({
        data: [
          {
            id: newId(),
            applicationId: s.applicationId,
            secretHash: "hash-forever",
            createdAt: at(-100),
            expiresAt: null,
            lookupHash: sha256("forever"),
          },
          { id: laterId, applicationId: s.applicationId, secretHash: "hash-later", createdAt: at(-100), expiresAt: at(1) },
          { id: newId(), applicationId: s.applicationId, secretHash: "hash-expired", createdAt: at(-100), expiresAt: at(-1) },
          { id: newId(), applicationId: s.applicationId, secretHash: "hash-expiring-now", createdAt: at(-100), expiresAt: NOW },
        ],
      });
      const client = await store.findClient(s.clientId, NOW);
      t.strictSame(
        { ...client, secretHashes: [...client!.secretHashes].sort() },
        {
          id: s.applicationId,
          clientId: s.clientId,
          clientType: "confidential",
          grantTypes: "authorization_code refresh_token",
          secretHashes: ["hash-forever", "hash-later"],
          secretsWithoutLookup: new Map([["hash-later", laterId]]),
        },
        "the active secrets, and which of them have no SHA-256 stored",
      );

      const bare = await seed(db, "bare");
      t.strictSame((await store.findClient(bare.clientId, NOW))?.secretHashes, [], "a client without secrets has none");
      t.equal(await store.findClient("client-nobody", NOW), null, "an unknown client_id finds nothing");
    });

    t.test("a client's secrets and settings, changed by anyone, are what the next lookup finds", async (t) => {
      const s = await seed(db, "changing");
      const secret = (name: string, expiresAt: Date | null = null) => ({
        id: newId(),
        applicationId: s.applicationId,
        secretHash: `hash-${name}`,
        createdAt: at(-100),
        expiresAt,
      });
      const hashes = async (now = NOW) => [...((await store.findClient(s.clientId, now))?.secretHashes ?? [])].sort();
      const a = secret("a");
      await db.clientSecret.createMany({ data: [a, secret("b", at(30))] });
      t.strictSame(await hashes(), ["hash-a", "hash-b"]);
      t.strictSame(await hashes(at(31)), ["hash-a"], "a secret past its expiry is not offered");
      await db.clientSecret.delete({ where: { id: a.id } });
      await db.clientSecret.create({ data: secret("c") });
      t.strictSame(await hashes(), ["hash-b", "hash-c"], "a secret deleted or added through Prisma (the admin API)");
      await db.application.update({ where: { id: s.applicationId }, data: { grantTypes: "authorization_code" } });
      t.equal((await store.findClient(s.clientId, NOW))?.grantTypes, "authorization_code", "the application's settings too");
      if (name === "sqlite") {
        // Another process's connection.
        const other = new Database(url.slice("file:".length));
        other.prepare(`DELETE FROM "ClientSecret" WHERE "secretHash" = 'hash-c'`).run();
        other.close();
        t.strictSame(await hashes(), ["hash-b"], "a secret deleted by another process");
      }
      await db.application.delete({ where: { id: s.applicationId } });
      t.equal(await store.findClient(s.clientId, NOW), null, "a deleted application is unknown at once");
    });

    t.test("fillSecretLookupHash stores a secret's SHA-256 once; the next lookup no longer lists it", async (t) => {
      const s = await seed(db, "lookup");
      const id = newId();
      await db.clientSecret.create({ data: { id, applicationId: s.applicationId, secretHash: "hash-old", createdAt: at(-100) } });
      const without = async () => [...((await store.findClient(s.clientId, NOW))?.secretsWithoutLookup ?? [])];
      t.strictSame(await without(), [["hash-old", id]], "a secret from before the column: listed");
      await store.fillSecretLookupHash(id, sha256("old"));
      t.equal((await db.clientSecret.findUniqueOrThrow({ where: { id } })).lookupHash, sha256("old"));
      t.strictSame(await without(), [], "filled: no longer listed (the store's own write is seen, remembered clients or not)");
      await store.fillSecretLookupHash(id, sha256("another"));
      t.equal((await db.clientSecret.findUniqueOrThrow({ where: { id } })).lookupHash, sha256("old"), "a second fill changes nothing");
      await store.fillSecretLookupHash("no-such-secret", sha256("x"));
      t.pass("a secret deleted meanwhile: nothing to fill, no error");
    });

    t.test("finds a code by its hash, and consumes it once", async (t) => {
      const s = await seed(db, "code");
      const expected = {
        id: s.codeId,
        applicationId: s.applicationId,
        installationId: s.installationId,
        installationActive: true,
        installationSuspended: false,
        account: "code",
        scopes: "read",
        redirectUri: "https://app.example/callback",
        codeChallenge: "challenge",
        codeChallengeMethod: "S256",
        expiresAt: at(600),
        consumedAt: null,
        revokedAt: null,
      };
      t.strictSame(await store.findCodeByHash(s.codeHash), expected);
      t.equal(await store.findCodeByHash(sha256("no such code")), null);

      const token = newToken(s, "code-1");
      t.equal(await store.exchangeCode(s.codeId, NOW, token), true, "the first exchange consumes the code");
      t.equal(await store.exchangeCode(s.codeId, at(1), newToken(s, "code-2")), false, "the second finds it consumed");
      t.strictSame(await store.findCodeByHash(s.codeHash), { ...expected, consumedAt: NOW });
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-code-2"))), null, "the second exchange inserted nothing");
    });

    t.test("refuses to exchange an expired or revoked code", async (t) => {
      const expired = await seed(db, "expired", { expiresAt: NOW });
      t.equal(await store.exchangeCode(expired.codeId, NOW, newToken(expired, "expired-1")), false);
      const revoked = await seed(db, "revoked", { revokedAt: at(-1) });
      t.strictSame((await store.findCodeByHash(revoked.codeHash))?.revokedAt, at(-1));
      t.equal(await store.exchangeCode(revoked.codeId, NOW, newToken(revoked, "revoked-1")), false);
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-expired-1"))), null);
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-revoked-1"))), null);
    });

    t.test("inserts a token pair and finds it by its access and refresh hashes", async (t) => {
      const s = await seed(db, "pair");
      const token = newToken(s, "pair-1");
      t.equal(await store.exchangeCode(s.codeId, NOW, token), true);
      const found = await store.findTokenByRefresh(lookup(token.refreshTokenHash));
      t.strictSame(found, { ...token, installationActive: true, installationSuspended: false, rotatedAt: null, revokedAt: null });
      t.equal(typeof found?.generation, "number");
      t.strictSame(await store.findByAccess(lookup(token.accessTokenHash)), introspected(token));
      t.strictSame(await store.findByRefresh(lookup(token.refreshTokenHash)), introspected(token));
      t.equal(await store.findByAccess(lookup(token.refreshTokenHash)), null, "a refresh hash is not an access hash");
      t.equal(await store.findByRefresh(lookup(token.accessTokenHash)), null, "nor the reverse");
      t.equal(await store.findTokenByRefresh(lookup(sha256("unknown"))), null);
    });

    t.test("finds a token by its selector only with its own hash, and a token issued before selectors by its legacy hash", async (t) => {
      const s = await seed(db, "legacy");
      const token = newToken(s, "legacy-1");
      t.equal(await store.exchangeCode(s.codeId, NOW, token), true);
      const wrong = { selector: token.id, hash: sha256("another secret") };
      t.equal(await store.findTokenByRefresh(wrong), null, "the right row, another token: not found");
      t.equal(await store.findByAccess(wrong), null);
      t.equal(await store.findByRefresh(wrong), null);

      const old = newToken(s, "legacy-2", { codeId: null });
      await db.token.create({ data: { ...old } });
      await db.legacyTokenHash.createMany({ data: [old.accessTokenHash, old.refreshTokenHash].map((hash) => ({ hash, tokenId: old.id })) });
      const legacy = (hash: string): TokenLookup => ({ selector: null, hash });
      t.equal((await store.findTokenByRefresh(legacy(old.refreshTokenHash)))?.id, old.id, "a legacy refresh token is found by its hash");
      t.strictSame(await store.findByAccess(legacy(old.accessTokenHash)), introspected(old), "and a legacy access token");
      t.strictSame(await store.findByRefresh(legacy(old.refreshTokenHash)), introspected(old));
      t.equal(await store.findByAccess(legacy(old.refreshTokenHash)), null, "a legacy refresh hash is not an access hash");
      t.equal(await store.findTokenByRefresh(legacy(old.accessTokenHash)), null, "nor the reverse");
      t.equal(await store.findByAccess(legacy(token.accessTokenHash)), null, "a token with a selector has no legacy hash");
      await db.token.delete({ where: { id: old.id } });
      t.equal(await db.legacyTokenHash.count({ where: { tokenId: old.id } }), 0, "its legacy hashes go with the row");
    });

    t.test("rotates a refresh token once into its successor", async (t) => {
      const s = await seed(db, "rotate");
      const parent = newToken(s, "rotate-1");
      await store.exchangeCode(s.codeId, NOW, parent);
      t.equal(await store.findSuccessor(parent.id), null, "no successor yet");

      const successor = newToken(s, "rotate-2", { familyId: parent.familyId, generation: 2, parentId: parent.id, codeId: null, createdAt: at(60) });
      t.equal(await store.rotate(parent.id, at(60), successor, "read"), true);
      t.equal(
        await store.rotate(parent.id, at(61), newToken(s, "rotate-3", { familyId: parent.familyId, generation: 2, parentId: parent.id }), "read"),
        false,
        "a rotated token rotates no more",
      );

      t.strictSame(await store.findSuccessor(parent.id), {
        ...successor,
        installationActive: true,
        installationSuspended: false,
        rotatedAt: null,
        revokedAt: null,
      });
      t.strictSame((await store.findTokenByRefresh(lookup(parent.refreshTokenHash)))?.rotatedAt, at(60));
      t.strictSame(await store.findByAccess(lookup(parent.accessTokenHash)), introspected(parent, at(60)));
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-rotate-3"))), null);

      const late = newToken(s, "late-1", { codeId: null, refreshExpiresAt: at(120) });
      await db.token.create({ data: { ...late } });
      t.equal(
        await store.rotate(late.id, at(120), newToken(s, "late-2", { parentId: late.id }), "read"),
        false,
        "an expired refresh token does not rotate",
      );
    });

    t.test("lookups issued together each get their own answer (batched reads on PostgreSQL, read groups on SQLite)", async (t) => {
      const seeded = await Promise.all(Array.from({ length: 4 }, (_, i) => seed(db, `reads${i}`)));
      const [first, second] = seeded as [Seeded, Seeded];
      await db.clientSecret.createMany({
        data: [
          { id: newId(), applicationId: first.applicationId, secretHash: "hash-reads-forever", createdAt: at(-100), expiresAt: null },
          { id: newId(), applicationId: first.applicationId, secretHash: "hash-reads-until-30", createdAt: at(-100), expiresAt: at(30) },
          { id: newId(), applicationId: second.applicationId, secretHash: "hash-reads-second", createdAt: at(-100), expiresAt: null },
        ],
      });
      const tokens = seeded.map((s, i) => newToken(s, `reads${i}-1`, { codeId: null }));
      await db.token.createMany({ data: tokens });
      const clients = async (found: Promise<Awaited<ReturnType<OAuthStore["findClient"]>>>) =>
        [...((await found)?.secretHashes ?? ["unknown"])].sort();
      const one = (lookups: OAuthStore) =>
        Promise.all([
          clients(lookups.findClient(first.clientId, NOW)),
          clients(lookups.findClient(first.clientId, at(31))),
          clients(lookups.findClient(second.clientId, NOW)),
          clients(lookups.findClient("client-reads-nobody", NOW)),
          ...seeded.map(async (s) => (await lookups.findCodeByHash(s.codeHash))?.id),
          lookups.findCodeByHash(sha256("code-never-issued")),
          ...seeded.map(async (s) => (await lookups.findInstallation(s.installationId))?.id),
          lookups.findInstallation(newId()),
          ...tokens.map(async (token) => (await lookups.findTokenByRefresh(lookup(token.refreshTokenHash)))?.id),
          lookups.findTokenByRefresh(lookup(tokens[0]!.refreshTokenHash)).then((found) => found?.id),
          lookups.findTokenByRefresh({ selector: tokens[1]!.id, hash: sha256("refresh-forged") }),
          lookups.findTokenByRefresh(lookup(sha256("refresh-never-issued"))),
          ...tokens.map(async (token) => (await lookups.findByAccess(lookup(token.accessTokenHash)))?.id),
          lookups.findByAccess({ selector: tokens[2]!.id, hash: tokens[2]!.refreshTokenHash }),
        ]);
      const expected = [
        ["hash-reads-forever", "hash-reads-until-30"],
        ["hash-reads-forever"],
        ["hash-reads-second"],
        ["unknown"],
        ...seeded.map((s) => s.codeId),
        null,
        ...seeded.map((s) => s.installationId),
        null,
        ...tokens.map((token) => token.id),
        tokens[0]!.id,
        null,
        null,
        ...tokens.map((token) => token.id),
        null,
      ];
      const readsBefore = name === "sqlite" ? { ...database.stats().reads! } : undefined;
      t.strictSame(await one(store), expected, "each its own client at its own time, its own code and token; forged and unknown find nothing");

      if (readsBefore) {
        // SQLite: the turn's lookups ran in one read transaction.
        const after = database.stats().reads!;
        t.strictSame(
          { lookups: after.lookups - readsBefore.lookups, transactions: after.transactions - readsBefore.transactions },
          { lookups: expected.length, transactions: 1 },
          "SQLite: all of them in one read transaction",
        );
        // A lookup that throws (a key SQLite cannot bind) fails alone; the others of its group are answered.
        const [good, bad, other] = await Promise.allSettled([
          store.findClient(second.clientId, NOW),
          store.findInstallation({} as unknown as string),
          store.findByAccess(lookup(tokens[3]!.accessTokenHash)),
        ]);
        t.match(good, { status: "fulfilled", value: { clientId: second.clientId } }, "the lookup before it is answered");
        t.match(bad, { status: "rejected", reason: { message: /parameter/ } }, "the bad key fails alone");
        t.match(other, { status: "fulfilled", value: { id: tokens[3]!.id } }, "and the one after it");
        // Each group begins its own transaction: a commit through Prisma's connection between two turns is seen by the next.
        await db.token.update({ where: { id: tokens[3]!.id }, data: { revokedAt: at(5), revokedReason: "test" } });
        const [seen] = await Promise.all([store.findByAccess(lookup(tokens[3]!.accessTokenHash)), store.findInstallation(first.installationId)]);
        t.same(seen?.revokedAt, at(5), "a lookup sees what was committed before it was asked for");
        await db.token.update({ where: { id: tokens[3]!.id }, data: { revokedAt: null, revokedReason: null } });
      }

      if (name === "postgresql") {
        // On one connection, the named statements' calls say how many statements the lookups took.
        const { pool, end } = createPool(parsePostgresUrl(url), { ...DEFAULT_DATABASE_SETTINGS, poolSize: 1 });
        t.teardown(() => end(1000));
        t.strictSame(await one(createPostgresTokenStore(pool)), expected, "the same answers on a store of its own");
        const { rows } = await pool.query<{ statement: string; calls: string }>(
          "SELECT statement, generic_plans + custom_plans AS calls FROM pg_prepared_statements",
        );
        t.strictSame(
          rows.map((row) => [row.statement.includes("ANY($1::text[])"), Number(row.calls)]),
          [
            [true, 1],
            [true, 1],
            [true, 1],
            [true, 1],
            [true, 1],
          ],
          "five statements, one per kind of lookup (clients, codes, installations, tokens, introspections), each run once",
        );
        // A key PostgreSQL refuses (a NUL in text) fails its own lookup only, not the batch it was in.
        const [good, bad] = await Promise.allSettled([store.findClient(second.clientId, NOW), store.findClient("client-\u0000-nul", NOW)]);
        t.match(good, { status: "fulfilled", value: { clientId: second.clientId } }, "the lookup beside it is answered");
        t.match(bad, { status: "rejected" }, "the refused key fails alone");
      }
    });

    t.test("writes issued together each get their own answer (group commit on SQLite)", async (t) => {
      const seeded = await Promise.all(Array.from({ length: 8 }, (_, i) => seed(db, `group${i}`)));
      /** How many transactions `writes` took: SQLite counts them; on PostgreSQL the rows one transaction wrote share its id (xmin). */
      const transactions = async (writes: () => Promise<boolean[]>, written: () => string[]) => {
        const before = database.stats().writeLock?.writes;
        const outcomes = await writes();
        if (before !== undefined) return { outcomes, transactions: database.stats().writeLock!.writes - before };
        const rows = await db.$queryRawUnsafe<{ xmin: string }[]>(
          `SELECT DISTINCT xmin::text AS xmin FROM "Token" WHERE "id" = ANY($1::text[])`,
          written(),
        );
        return { outcomes, transactions: rows.length };
      };
      // Issued in one turn of the event loop: eight exchanges, then one of them again.
      const pairs = seeded.map((s, i) => newToken(s, `group${i}-1`));
      const exchanged = await transactions(
        () =>
          Promise.all([
            ...seeded.map((s, i) => store.exchangeCode(s.codeId, NOW, pairs[i]!)),
            store.exchangeCode(seeded[0]!.codeId, NOW, newToken(seeded[0]!, "group0-again")),
          ]),
        () => pairs.map((pair) => pair.id),
      );
      t.strictSame(exchanged.outcomes, [true, true, true, true, true, true, true, true, false], "each code once; the repeat finds it consumed");
      t.equal(exchanged.transactions, 1, "one transaction for all nine (PostgreSQL: one statement)");

      // Racing rotations of one parent: exactly one wins, whichever the order.
      const parent = pairs[0]!;
      const racers = Array.from({ length: 6 }, (_, i) =>
        newToken(seeded[0]!, `group0-r${i}`, { familyId: parent.familyId, generation: 2, parentId: parent.id, codeId: null }),
      );
      const rotated = await Promise.all(racers.map((successor) => store.rotate(parent.id, at(10), successor, "read")));
      t.equal(rotated.filter(Boolean).length, 1, "one rotation of the parent");
      t.equal((await store.findSuccessor(parent.id))?.id, racers[rotated.indexOf(true)]!.id, "its successor is the winner's");

      // A write that fails (its id is taken) fails alone: the others commit.
      const [, , , next] = seeded;
      const [, a, b] = pairs as [NewToken, NewToken, NewToken];
      const outcomes = await Promise.allSettled([
        store.rotate(a.id, at(20), newToken(seeded[1]!, "group1-2", { familyId: a.familyId, generation: 2, parentId: a.id, codeId: null }), "read"),
        store.rotate(
          b.id,
          at(20),
          {
            ...newToken(seeded[2]!, "group2-2", { familyId: b.familyId, generation: 2, parentId: b.id, codeId: null }),
            id: a.id,
          },
          "read",
        ),
        store.rotate(next!.codeId, at(20), newToken(next!, "never"), "read"),
      ]);
      t.strictSame(
        outcomes.map((outcome) => outcome.status),
        ["fulfilled", "rejected", "fulfilled"],
        "the duplicate is refused; the others answer",
      );
      t.equal((outcomes[0] as PromiseFulfilledResult<boolean>).value, true, "the rotation beside it committed");
      t.equal((outcomes[2] as PromiseFulfilledResult<boolean>).value, false, "an id that is no token rotates nothing");
      t.ok(await store.findTokenByRefresh(lookup(sha256("refresh-group1-2"))), "the first rotation's successor is stored");
      t.strictSame((await store.findTokenByRefresh(lookup(b.refreshTokenHash!)))?.rotatedAt, null, "the failed rotation left its parent unrotated");

      // Installation tokens issued together: each only while its own installation is active with the scopes read.
      await db.installation.update({ where: { id: seeded[3]!.installationId }, data: { status: "suspended" } });
      const minted = seeded.slice(0, 4).map((s, i) => ({ ...newToken(s, `group${i}-minted`, { codeId: null }), refreshTokenHash: null }));
      const issued = await transactions(
        () =>
          Promise.all([
            store.issueAccessToken(minted[0]!, "read write"),
            store.issueAccessToken(minted[1]!, "read write"),
            store.issueAccessToken(minted[2]!, "read"),
            store.issueAccessToken(minted[3]!, "read write"),
          ]),
        () => minted.map((token) => token.id),
      );
      t.strictSame(issued.outcomes, [true, true, false, false], "issued, issued; the scopes changed; the installation is suspended");
      t.equal(issued.transactions, 1, "one transaction for all four (PostgreSQL: one statement)");
      t.strictSame(
        await Promise.all(minted.map(async (token) => (await store.findByAccess(lookup(token.accessTokenHash)))?.id ?? null)),
        [minted[0]!.id, minted[1]!.id, null, null],
        "only the issued ones are stored",
      );
    });

    t.test("revokes a token, and a whole family, counting only live tokens", async (t) => {
      const s = await seed(db, "family");
      const first = newToken(s, "family-1");
      await store.exchangeCode(s.codeId, NOW, first);
      const second = newToken(s, "family-2", { familyId: first.familyId, generation: 2, parentId: first.id, codeId: null });
      await store.rotate(first.id, at(1), second, "read");
      const other = newToken(s, "family-other", { codeId: null });
      await db.token.create({ data: other });

      t.equal(await store.revokeFamily(first.familyId, at(2), "refresh_reused"), 2);
      t.equal(await store.revokeFamily(first.familyId, at(3), "refresh_reused"), 0, "nothing live is left");
      t.strictSame(await store.findByRefresh(lookup(first.refreshTokenHash)), introspected(first, at(1), at(2)));
      t.strictSame((await store.findTokenByRefresh(lookup(second.refreshTokenHash)))?.revokedAt, at(2));
      t.strictSame(
        (await db.token.findMany({ where: { familyId: first.familyId }, orderBy: { generation: "asc" } })).map((row) => row.revokedReason),
        ["refresh_reused", "refresh_reused"],
      );
      t.equal((await store.findByAccess(lookup(other.accessTokenHash)))?.revokedAt, null, "another family is untouched");
      t.equal(
        await store.rotate(second.id, at(4), newToken(s, "family-3", { parentId: second.id }), "read"),
        false,
        "a revoked token does not rotate",
      );

      t.equal(await store.revokeToken(other.id, at(5), "revoked"), true);
      t.equal(await store.revokeToken(other.id, at(6), "revoked"), false, "revoked once");
      t.strictSame((await store.findByAccess(lookup(other.accessTokenHash)))?.revokedAt, at(5));
    });

    t.test("reports an uninstalled installation, and issues nothing for it", async (t) => {
      const s = await seed(db, "gone");
      const token = newToken(s, "gone-1", { codeId: null });
      await db.token.create({ data: token });
      await db.installation.update({ where: { id: s.installationId }, data: { status: "uninstalled", activeAccount: null, uninstalledAt: NOW } });

      t.equal((await store.findCodeByHash(s.codeHash))?.installationActive, false);
      t.equal((await store.findTokenByRefresh(lookup(token.refreshTokenHash)))?.installationActive, false);
      t.equal(await store.exchangeCode(s.codeId, NOW, newToken(s, "gone-2")), false, "the code is not exchanged");
      t.equal((await store.findCodeByHash(s.codeHash))?.consumedAt, null, "nor consumed");
      t.equal(await store.rotate(token.id, NOW, newToken(s, "gone-3", { parentId: token.id }), "read"), false, "the token does not rotate");
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-gone-2"))), null);
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-gone-3"))), null);
    });

    t.test("device authorizations: found by the device code's hash, polls recorded once, consumed once", async (t) => {
      const s = await seed(db, "device");
      const id = newId();
      const deviceCodeHash = sha256("device-code");
      await db.deviceAuthorization.create({
        data: {
          id,
          deviceCodeHash,
          userCodeHash: "user-code-hmac",
          applicationId: s.applicationId,
          scopes: "read write",
          createdAt: NOW,
          expiresAt: at(600),
          interval: 5,
        },
      });
      const pending = {
        id,
        applicationId: s.applicationId,
        status: "pending",
        expiresAt: at(600),
        interval: 5,
        lastPolledAt: null,
        consumedAt: null,
        installationId: null,
        installationActive: false,
        installationSuspended: false,
        account: null,
        grantedScopes: null,
      };
      t.strictSame(await store.findDeviceAuthorization(deviceCodeHash), pending);
      t.equal(await store.findDeviceAuthorization(sha256("no such device code")), null);

      t.equal(await store.recordPoll(id, NOW, null), true, "the first poll is recorded");
      t.equal(await store.recordPoll(id, at(1), null), false, "a poll that read the state before it is not");
      t.equal(await store.recordPoll(id, at(5), NOW), true, "the next one, having read the first, is");
      await store.slowDown(id, at(6));
      await store.slowDown(id, at(7));
      t.strictSame(await store.findDeviceAuthorization(deviceCodeHash), { ...pending, interval: 15, lastPolledAt: at(7) }, "5 s more each time");

      const token = newToken(s, "device-1", { codeId: null, familyId: id });
      t.equal(await store.exchangeDeviceCode(id, at(8), token), false, "a pending authorization issues nothing");
      await db.deviceAuthorization.update({
        where: { id },
        data: { status: "accepted", completedAt: at(8), installationId: s.installationId, account: "device", grantedScopes: "read" },
      });
      const accepted = {
        ...pending,
        status: "accepted",
        interval: 15,
        lastPolledAt: at(7),
        installationId: s.installationId,
        installationActive: true,
        account: "device",
        grantedScopes: "read",
      };
      t.strictSame(await store.findDeviceAuthorization(deviceCodeHash), accepted);
      t.equal(await store.exchangeDeviceCode(id, at(600), token), false, "not once expired");
      t.equal(await store.exchangeDeviceCode(id, at(9), token), true, "accepted: consumed, and its tokens issued");
      t.equal(await store.exchangeDeviceCode(id, at(10), newToken(s, "device-2", { codeId: null, familyId: id })), false, "once");
      t.strictSame(await store.findDeviceAuthorization(deviceCodeHash), { ...accepted, consumedAt: at(9) });
      t.strictSame(await store.findTokenByRefresh(lookup(token.refreshTokenHash)), {
        ...token,
        installationActive: true,
        installationSuspended: false,
        rotatedAt: null,
        revokedAt: null,
      });
      t.equal(await store.findTokenByRefresh(lookup(sha256("refresh-device-2"))), null, "the second exchange inserted nothing");

      // Accepted for an installation that was uninstalled before the device polled.
      const gone = await seed(db, "device-gone");
      const goneId = newId();
      await db.deviceAuthorization.create({
        data: {
          id: goneId,
          deviceCodeHash: sha256("device-code-gone"),
          userCodeHash: "user-code-hmac-gone",
          applicationId: gone.applicationId,
          scopes: "read",
          createdAt: NOW,
          expiresAt: at(600),
          interval: 5,
          status: "accepted",
          installationId: gone.installationId,
          account: "device-gone",
          grantedScopes: "read",
        },
      });
      await db.installation.update({ where: { id: gone.installationId }, data: { status: "uninstalled", activeAccount: null, uninstalledAt: NOW } });
      t.equal((await store.findDeviceAuthorization(sha256("device-code-gone")))?.installationActive, false);
      t.equal(await store.exchangeDeviceCode(goneId, at(1), newToken(gone, "device-gone-1", { codeId: null, familyId: goneId })), false);
      t.equal((await store.findDeviceAuthorization(sha256("device-code-gone")))?.consumedAt, null, "nor consumed");
    });

    t.test(
      "a suspended installation: reported, nothing exchanged, rotated or issued, its tokens introspect as such; all back on unsuspend",
      async (t) => {
        const s = await seed(db, "paused");
        const token = newToken(s, "paused-1", { codeId: null });
        await db.token.create({ data: token });
        const setStatus = (status: string) => db.installation.update({ where: { id: s.installationId }, data: { status } });
        await setStatus("suspended");

        t.match(await store.findCodeByHash(s.codeHash), { installationActive: false, installationSuspended: true });
        t.match(await store.findTokenByRefresh(lookup(token.refreshTokenHash)), { installationActive: false, installationSuspended: true });
        t.strictSame(
          await store.findByAccess(lookup(token.accessTokenHash)),
          introspected(token, null, null, false),
          "introspection sees the status",
        );
        t.strictSame(await store.findByRefresh(lookup(token.refreshTokenHash)), introspected(token, null, null, false));
        t.match(await store.findInstallation(s.installationId), { active: false, suspended: true });

        t.equal(await store.exchangeCode(s.codeId, NOW, newToken(s, "paused-2")), false, "the code is not exchanged");
        t.equal((await store.findCodeByHash(s.codeHash))?.consumedAt, null, "nor consumed");
        t.equal(await store.rotate(token.id, NOW, newToken(s, "paused-3", { parentId: token.id }), "read"), false, "the token does not rotate");
        t.equal((await store.findTokenByRefresh(lookup(token.refreshTokenHash)))?.rotatedAt, null, "nor is it marked rotated");
        const minted = newToken(s, "paused-4", { codeId: null });
        t.equal(await store.issueAccessToken({ ...minted, refreshTokenHash: null }, "read write"), false, "no installation token is issued");
        for (const name of ["paused-2", "paused-3"]) t.equal(await store.findTokenByRefresh(lookup(sha256(`refresh-${name}`))), null);
        t.equal(await store.findByAccess(lookup(minted.accessTokenHash)), null);

        await setStatus("active");
        t.strictSame(await store.findByAccess(lookup(token.accessTokenHash)), introspected(token), "unsuspended: the same token is active again");
        t.equal(await store.rotate(token.id, NOW, newToken(s, "paused-3", { parentId: token.id }), "read"), true, "and rotates");
        t.equal(await store.exchangeCode(s.codeId, NOW, newToken(s, "paused-2")), true, "the code is exchanged");
        t.equal(await store.issueAccessToken({ ...minted, refreshTokenHash: null }, "read write"), true);
      },
    );

    t.test("issues nothing from a code, token or installation whose scopes changed since they were read", async (t) => {
      const s = await seed(db, "narrowed"); // the code grants "read", the installation "read write"
      t.equal(await store.exchangeCode(s.codeId, NOW, newToken(s, "narrowed-1", { scopes: "read write" })), false, "code read as read write");
      t.equal((await store.findCodeByHash(s.codeHash))?.consumedAt, null, "not consumed");
      const token = newToken(s, "narrowed-2", { codeId: null });
      await db.token.create({ data: token });
      t.equal(await store.rotate(token.id, NOW, newToken(s, "narrowed-3", { parentId: token.id }), "read write"), false, "parent read as read write");
      t.equal((await store.findTokenByRefresh(lookup(token.refreshTokenHash)))?.rotatedAt, null, "not rotated");
      const minted = { ...newToken(s, "narrowed-4", { codeId: null }), refreshTokenHash: null };
      t.equal(await store.issueAccessToken(minted, "read"), false, "installation read as read");
      t.equal(await store.findByAccess(lookup(minted.accessTokenHash)), null);

      t.equal(await store.exchangeCode(s.codeId, NOW, newToken(s, "narrowed-1")), true, "with what they have, each goes through");
      t.equal(await store.rotate(token.id, NOW, newToken(s, "narrowed-3", { parentId: token.id }), "read"), true);
      t.equal(await store.issueAccessToken(minted, "read write"), true);
    });
  });
}
