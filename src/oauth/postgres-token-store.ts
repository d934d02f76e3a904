// TokenStore on PostgreSQL: plain SQL on the process's pg.Pool, each write in one
// transaction. Several server processes share the database, so every single-use and
// rotation guarantee rests on row locks, not on anything in this process:
// - a code or refresh token is consumed by one conditional UPDATE; concurrent
//   consumers block on the row lock and, once the winner commits, re-check the
//   condition and match nothing;
// - the installation row is locked FOR SHARE before tokens are issued, so an
//   uninstall (which updates that row first) either waits for the issue to commit
//   and then revokes what it issued, or runs first and the issue finds no active
//   installation.
import type pg from "pg";
import type { ClientRecord, GrantRecord, IntrospectionRecord, NewToken, TokenRecord, TokenStore } from "./token-store.js";

type Row = Record<string, unknown>;

/**
 * Timestamps go in as UTC ISO strings: the columns are timestamp without time zone
 * (Prisma's mapping), which ignores an offset, and pg would otherwise format a Date
 * in the process's local time zone.
 */
const ts = (date: Date) => date.toISOString();

const TOKEN_COLUMNS = `t."id", t."accessTokenHash", t."refreshTokenHash", t."applicationId", t."installationId",
  t."clientId", t."account", t."grantId", t."familyId", t."generation", t."parentId", t."scopes", t."createdAt",
  t."accessExpiresAt", t."refreshExpiresAt", t."rotatedAt", t."revokedAt", i."status" AS "installationStatus"`;

const INTROSPECTION_COLUMNS = `"id", "applicationId", "clientId", "installationId", "account", "familyId", "scopes",
  "createdAt", "accessExpiresAt", "refreshExpiresAt", "rotatedAt", "revokedAt"`;

const INSERT_TOKEN = `INSERT INTO "Token" ("id", "accessTokenHash", "refreshTokenHash", "applicationId", "installationId",
  "clientId", "account", "grantId", "familyId", "generation", "parentId", "scopes", "createdAt", "accessExpiresAt", "refreshExpiresAt")
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`;

const tokenValues = (t: NewToken) => [
  t.id,
  t.accessTokenHash,
  t.refreshTokenHash,
  t.applicationId,
  t.installationId,
  t.clientId,
  t.account,
  t.grantId,
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

async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Locks the installation against a concurrent uninstall; false if it is not active. */
async function lockActiveInstallation(client: pg.PoolClient, installationId: string): Promise<boolean> {
  const { rowCount } = await client.query(`SELECT 1 FROM "Installation" WHERE "id" = $1 AND "status" = 'active' FOR SHARE`, [installationId]);
  return rowCount === 1;
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
      const first = rows[0] as Row | undefined;
      if (!first) return null;
      return {
        id: first.id as string,
        clientId: first.clientId as string,
        clientType: first.clientType as string,
        grantTypes: first.grantTypes as string,
        secretHashes: rows.flatMap((row: Row) => (row.secretHash === null ? [] : [row.secretHash as string])),
      };
    },

    async findGrantByCodeHash(codeHash): Promise<GrantRecord | null> {
      const { rows } = await pool.query(
        `SELECT g."id", g."applicationId", g."installationId", g."scopes", g."redirectUri", g."codeChallenge",
                g."codeChallengeMethod", g."expiresAt", g."consumedAt", g."revokedAt", i."status" AS "installationStatus", i."account"
         FROM "Grant" g JOIN "Installation" i ON i."id" = g."installationId" WHERE g."codeHash" = $1`,
        [codeHash],
      );
      const row = rows[0] as Row | undefined;
      return row ? ({ ...(row as unknown as GrantRecord), installationActive: row.installationStatus === "active" } as GrantRecord) : null;
    },

    exchangeCode(grantId, now, token) {
      return inTransaction(pool, async (client) => {
        if (!(await lockActiveInstallation(client, token.installationId))) return false;
        const consumed = await client.query(
          `UPDATE "Grant" SET "consumedAt" = $1 WHERE "id" = $2 AND "consumedAt" IS NULL AND "revokedAt" IS NULL AND "expiresAt" > $1`,
          [ts(now), grantId],
        );
        if (consumed.rowCount !== 1) return false;
        await client.query(INSERT_TOKEN, tokenValues(token));
        return true;
      });
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

    rotate(parentId, now, successor) {
      return inTransaction(pool, async (client) => {
        if (!(await lockActiveInstallation(client, successor.installationId))) return false;
        const rotated = await client.query(
          `UPDATE "Token" SET "rotatedAt" = $1
           WHERE "id" = $2 AND "rotatedAt" IS NULL AND "revokedAt" IS NULL AND "refreshExpiresAt" > $1`,
          [ts(now), parentId],
        );
        if (rotated.rowCount !== 1) return false;
        await client.query(INSERT_TOKEN, tokenValues(successor));
        return true;
      });
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

    async close() {
      // The pool belongs to the Database that opened it.
    },
  };
}
