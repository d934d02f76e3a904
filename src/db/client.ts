// Builds the Prisma client for a DATABASE_URL. Prisma runs with driver adapters and
// no native engine (see README, "Database").
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";

export type Db = PrismaClient;
export type Tx = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

export function isSqlite(url: string): boolean {
  return url.startsWith("file:");
}

export async function connectDb(url: string): Promise<Db> {
  if (!isSqlite(url)) throw new Error("only file: (SQLite) DATABASE_URLs are supported by this build");
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url, timeout: 5000 }) });
  // Per-connection settings the adapter does not make: SQLite leaves foreign keys
  // off unless asked (cascades would silently not happen), and NORMAL sync in WAL
  // mode is durable across process crashes at a fraction of FULL's write cost.
  await prisma.$executeRawUnsafe("PRAGMA foreign_keys = ON");
  await prisma.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
  return prisma;
}
