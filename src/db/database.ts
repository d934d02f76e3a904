// Opens everything that talks to the database for one process: the Prisma client
// (admin API, CLI, domain services), the token endpoint's store, and the write lock
// they share.
import type { Config } from "../config.js";
import { openSqliteTokenStore } from "../oauth/sqlite-token-store.js";
import type { TokenStore } from "../oauth/token-store.js";
import { connectDb, type Db, type Tx } from "./client.js";
import { keyFileFor, loadOrCreateKeyFile } from "./secret-key.js";
import { WriteLock } from "./write-lock.js";

export interface Database {
  prisma: Db;
  tokens: TokenStore;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openDatabase(url: string): Promise<Database> {
  const prisma = await connectDb(url);
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

/** The configured server key, or (SQLite) the key file next to the database. */
export function resolveSecretKey(config: Pick<Config, "secretKey" | "databaseUrl">): string {
  if (config.secretKey !== undefined) return config.secretKey;
  return loadOrCreateKeyFile(keyFileFor(config.databaseUrl));
}
