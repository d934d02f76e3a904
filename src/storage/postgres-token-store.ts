// TokenStore on PostgreSQL: plain SQL on the process's pg.Pool, each write one
// statement. Several server processes share the database, so every single-use and
// rotation guarantee rests on row locks, not on anything in this process:
// - a code or refresh token is consumed by one conditional UPDATE; concurrent
//   consumers block on the row lock and, once the winner commits, re-check the
//   condition and match nothing;
// - the installation row is locked FOR SHARE before tokens are issued, so an
//   uninstall (which updates that row first) either waits for the issue to commit
//   and then revokes what it issued, or runs first and the issue finds no active
//   installation.
import type pg from "pg";
import { type ClientRecord, clientRecord, type CodeRecord, type IntrospectionRecord, type NewToken, type TokenRecord, type TokenStore } from "../oauth/token-store.js";

type Row = Record<string, unknown>;

/**
 * Timestamps go in as UTC ISO strings: the columns are timestamp without time zone
 * (Prisma's mapping), which ignores an offset, and pg would otherwise format a Date
 * in the process's local time zone.
 */
const ts = (date: Date) => date.toISOString();

const TOKEN_COLUMNS = `t."id", t."accessTokenHash", t."refreshTokenHash", t."applicationId", t."installationId",
  t."clientId", t."account", t."grantId" AS "codeId", t."familyId", t."generation", t."parentId", t."scopes", t."createdAt",
  t."accessExpiresAt", t."refreshExpiresAt", t."rotatedAt", t."revokedAt", i."status" AS "installationStatus"`;

const INTROSPECTION_COLUMNS = `"id", "applicationId", "clientId", "installationId", "account", "familyId", "scopes",
  "createdAt", "accessExpiresAt", "refreshExpiresAt", "rotatedAt", "revokedAt"`;

/**
 * Consume-and-issue as ONE statement (one round trip, atomic by itself): lock the
 * installation FOR SHARE, apply the conditional UPDATE that consumes the code or
 * rotates the parent, and insert the new token only if that UPDATE matched a row.
 * $1–$15 are the token's columns, $16 the installation, $17 now, $18 the consumed row.
 */
function consumeAndInsert(table: "Grant" | "Token", condition: string): string {
  return `WITH installation AS (
      SELECT 1 FROM "Installation" WHERE "id" = $16 AND "status" = 'active' FOR SHARE
    ), consumed AS (
      UPDATE "${table}" SET "${table === "Grant" ? "consumedAt" : "rotatedAt"}" = $17::timestamp(3)
      WHERE "id" = $18 AND ${condition} AND EXISTS (SELECT 1 FROM installation)
      RETURNING 1
    )
    INSERT INTO "Token" ("id", "accessTokenHash", "refreshTokenHash", "applicationId", "installationId",
      "clientId", "account", "grantId", "familyId", "generation", "parentId", "scopes", "createdAt", "accessExpiresAt", "refreshExpiresAt")
    SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::int, $11::text, $12::text,
      $13::timestamp(3), $14::timestamp(3), $15::timestamp(3)
    FROM consumed
    RETURNING "id"`;
}

const EXCHANGE_CODE = consumeAndInsert(
  "Grant",
  `"consumedAt" IS NULL AND "revokedAt" IS NULL AND "expiresAt" > $17::timestamp(3)`,
);
const ROTATE = consumeAndInsert(
  "Token",
  `"rotatedAt" IS NULL AND "revokedAt" IS NULL AND "refreshExpiresAt" > $17::timestamp(3)`,
);

const tokenValues = (t: NewToken) => [
  t.id,
  t.accessTokenHash,
  t.refreshTokenHash,
  t.applicationId,
  t.installationId,
  t.clientId,
  t.account,
  t.codeId,
  t.familyId,
  t.generation,
  t.parentId,
  t.scopes,
  ts(t.createdAt),
  ts(t.accessExpiresAt),
  ts(t.refreshExpiresAt),
];

function tokenRecord(row: Row): TokenRecord {
  return { ...(row as unknown as TokenRecord), generation: Number(row.generation), installationActive: row.installationStatus === "active" };
}

export function createPostgresTokenStore(pool: pg.Pool): TokenStore {
  return {
    async findClient(clientId, now): Promise<ClientRecord | null> {
      const { rows } = await pool.query(
        `SELECT a."id", a."clientId", a."clientType", a."grantTypes", s."secretHash"
         FROM "Application" a
         LEFT JOIN "ClientSecret" s ON s."applicationId" = a."id" AND (s."expiresAt" IS NULL OR s."expiresAt" > $1)
         WHERE a."clientId" = $2`,
        [ts(now), clientId],
      );
      return clientRecord(rows as Row[]);
    },

    async findCodeByHash(codeHash): Promise<CodeRecord | null> {
      const { rows } = await pool.query(
        `SELECT g."id", g."applicationId", g."installationId", g."scopes", g."redirectUri", g."codeChallenge",
                g."codeChallengeMethod", g."expiresAt", g."consumedAt", g."revokedAt", i."status" AS "installationStatus", i."account"
         FROM "Grant" g JOIN "Installation" i ON i."id" = g."installationId" WHERE g."codeHash" = $1`,
        [codeHash],
      );
      const row = rows[0] as Row | undefined;
      return row ? ({ ...(row as unknown as CodeRecord), installationActive: row.installationStatus === "active" } as CodeRecord) : null;
    },

    async exchangeCode(codeId, now, token) {
      const { rowCount } = await pool.query(EXCHANGE_CODE, [...tokenValues(token), token.installationId, ts(now), codeId]);
      return rowCount === 1;
    },

    async findTokenByRefreshHash(hash) {
      const { rows } = await pool.query(
        `SELECT ${TOKEN_COLUMNS} FROM "Token" t JOIN "Installation" i ON i."id" = t."installationId" WHERE t."refreshTokenHash" = $1`,
        [hash],
      );
      return rows[0] ? tokenRecord(rows[0] as Row) : null;
    },

    async findSuccessor(parentId) {
      const { rows } = await pool.query(
        `SELECT ${TOKEN_COLUMNS} FROM "Token" t JOIN "Installation" i ON i."id" = t."installationId" WHERE t."parentId" = $1`,
        [parentId],
      );
      return rows[0] ? tokenRecord(rows[0] as Row) : null;
    },

    async rotate(parentId, now, successor) {
      const { rowCount } = await pool.query(ROTATE, [...tokenValues(successor), successor.installationId, ts(now), parentId]);
      return rowCount === 1;
    },

    async findByAccessHash(hash) {
      const { rows } = await pool.query(`SELECT ${INTROSPECTION_COLUMNS} FROM "Token" WHERE "accessTokenHash" = $1`, [hash]);
      return (rows[0] as IntrospectionRecord | undefined) ?? null;
    },

    async findByRefreshHash(hash) {
      const { rows } = await pool.query(`SELECT ${INTROSPECTION_COLUMNS} FROM "Token" WHERE "refreshTokenHash" = $1`, [hash]);
      return (rows[0] as IntrospectionRecord | undefined) ?? null;
    },

    async revokeToken(tokenId, now, reason) {
      const { rowCount } = await pool.query(
        `UPDATE "Token" SET "revokedAt" = $1, "revokedReason" = $2 WHERE "id" = $3 AND "revokedAt" IS NULL`,
        [ts(now), reason, tokenId],
      );
      return rowCount === 1;
    },

    async revokeFamily(familyId, now, reason) {
      // A rotation committing while this UPDATE runs can add a member its snapshot
      // does not see; repeat until a pass finds nothing live (a rotation cannot start
      // from a revoked parent, so this converges at once in practice).
      let total = 0;
      for (let pass = 0; pass < 10; pass++) {
        const { rowCount } = await pool.query(
          `UPDATE "Token" SET "revokedAt" = $1, "revokedReason" = $2 WHERE "familyId" = $3 AND "revokedAt" IS NULL`,
          [ts(now), reason, familyId],
        );
        if (!rowCount) break;
        total += rowCount;
      }
      return total;
    },

    async ping() {
      await pool.query("SELECT 1");
    },

    async close() {
      // The pool belongs to the Database that opened it.
    },
  };
}
