// Opens everything that talks to the database for one process: the Prisma client
// (admin API, CLI, domain services) and the token endpoint's store, sharing one
// connection budget; on SQLite also the write lock they share.
import type { Config } from "../config.js";
import { createPostgresTokenStore } from "../oauth/postgres-token-store.js";
import { openSqliteTokenStore } from "../oauth/sqlite-token-store.js";
import type { TokenStore } from "../oauth/token-store.js";
import { connectPostgres, connectSqlite, type Db, isSqlite, type Tx } from "./client.js";
import { createPool } from "./postgres.js";
import { keyFileFor, loadOrCreateKeyFile } from "./secret-key.js";
import { ServerKeys } from "../crypto/server-keys.js";
import { WriteLock } from "./write-lock.js";

export interface Database {
  prisma: Db;
  tokens: TokenStore;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openDatabase(url: string): Promise<Database> {
  if (isSqlite(url)) {
    const prisma = await connectSqlite(url);
    const lock = new WriteLock();
    const tokens = openSqliteTokenStore(url, lock);
    return {
      prisma,
      tokens,
      transaction: (fn) => lock.run(() => prisma.$transaction(fn)),
      async close() {
        await tokens.close();
        await prisma.$disconnect();
      },
    };
  }
  const { pool, schema } = createPool(url);
  const prisma = connectPostgres(pool, schema);
  return {
    prisma,
    tokens: createPostgresTokenStore(pool),
    transaction: (fn) => prisma.$transaction(fn),
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** The configured server keys, or (SQLite only) the key file next to the database. */
export function resolveSecretKey(config: Pick<Config, "secretKeys" | "databaseUrl">): ServerKeys {
  if (config.secretKeys !== undefined) return new ServerKeys(config.secretKeys);
  return new ServerKeys(loadOrCreateKeyFile(keyFileFor(config.databaseUrl)));
}
