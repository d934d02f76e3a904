// Builds the Prisma client for the configured database. Prisma runs with driver
// adapters and no native engine (see README, "Database"): better-sqlite3 for SQLite,
// pg for PostgreSQL. The two generated clients come from one schema (the PostgreSQL
// one is generated from the SQLite one) and have the same API; the app is typed
// against the SQLite client's types.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";
import { PrismaClient as PostgresPrismaClient } from "../generated/postgres/client.js";
import { PrismaClient } from "../generated/prisma/client.js";
import type { Db } from "../domain/ports.js";
import { retryWhileBusy } from "./write-lock.js";

export type { Db, Tx } from "../domain/ports.js";

/**
 * Prisma's default error format reads the calling source file to print a code frame
 * in each error's message: costly (~0.5 s for the first error, measured here) when a
 * database outage fails every request, and the frame is of no use in a log.
 */
const errorFormat = "minimal";

/** `deadlineMs`: how long setting up the connection may wait for another process's lock. */
export async function connectSqlite(path: string, deadlineMs = 3000, busyTimeoutMs = 0): Promise<Db> {
  const url = `file:${path}`;
  // No busy timeout in the server: better-sqlite3 would wait for another process's
  // lock synchronously, freezing the event loop; src/storage/write-lock.ts waits instead.
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url, timeout: busyTimeoutMs }), errorFormat });
  // Per-connection settings the adapter does not make: SQLite leaves foreign keys
  // off unless asked (cascades would silently not happen), and NORMAL sync in WAL
  // mode is durable across process crashes at a fraction of FULL's write cost.
  // A new connection's first statement meets SQLITE_BUSY while another process holds
  // the database exclusively for a moment (the last connection to close checkpoints
  // the WAL): waited for, within the deadline, like a write.
  const deadline = performance.now() + deadlineMs;
  await retryWhileBusy(
    async () => {
      await prisma.$executeRawUnsafe("PRAGMA foreign_keys = ON");
      await prisma.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
    },
    deadline,
    deadlineMs,
  ).catch(async (error: unknown) => {
    await prisma.$disconnect();
    throw error;
  });
  return prisma;
}

export function connectPostgres(pool: pg.Pool, schema: string): Db {
  return new PostgresPrismaClient({ adapter: new PrismaPg(pool, { schema }), errorFormat }) as unknown as Db;
}
