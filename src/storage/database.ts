// Opens everything that talks to the database for one process: the Prisma client
// (admin API, CLI, domain services) and the token endpoint's store, sharing one
// connection budget; on SQLite also the write lock they share.
import { DEFAULT_DATABASE_SETTINGS, type DatabaseLocation, type DatabaseSettings } from "./settings.js";
import { DependencyStatus } from "../shared/dependency-status.js";
import { createPostgresTokenStore } from "./postgres-token-store.js";
import { INLINE_CHECKPOINT_PAGES, openSqliteTokenStore, type ReadStats, type SqliteTokenStore } from "./sqlite-token-store.js";
import { Checkpointer, DEFAULT_CHECKPOINTER } from "./checkpointer.js";
import type { OAuthStore } from "../oauth/token-store.js";
import { connectPostgres, connectSqlite, type Db, type Tx } from "./client.js";
import { createPool } from "./postgres.js";
import { keyFileFor, type KeySettings, loadOrCreateKeyFile } from "./secret-key.js";
import { ServerKeys } from "../crypto/server-keys.js";
import { retryWhileBusy, WriteLock, type WriteLockStats } from "./write-lock.js";
import { NO_TRACING, type Tracing } from "../shared/tracing.js";

export interface Database {
  prisma: Db;
  tokens: OAuthStore;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Resolves once Prisma and the token store have both answered; rejects otherwise. */
  ping(): Promise<void>;
  /** Up or down, as the process's database calls find it; logs each outage twice. */
  status: DependencyStatus;
  /** Read by the metrics at each scrape: the pool (PostgreSQL) or the write lock (SQLite). */
  stats(): DatabaseStats;
  close(): Promise<void>;
}

export interface DatabaseStats {
  /** PostgreSQL: connections open, idle, and callers waiting for one. */
  pool?: { total: number; idle: number; waiting: number };
  /** SQLite: the write lock's counters. */
  writeLock?: Readonly<WriteLockStats>;
  /** SQLite: the token path's lookups, and the read transactions they shared. */
  reads?: Readonly<ReadStats>;
  /** SQLite: checkpoints the background checkpointer ran, if it runs. */
  checkpoints?: number | undefined;
  /** SQLite: pauses of the writes for the checkpointer to catch up (each lets the WAL start over). */
  checkpointPauses?: number | undefined;
}

/**
 * The process's connections stop checkpointing inside their commits; a worker does it.
 * Should the worker stop, they checkpoint inline again (and a warning says so).
 */
async function backgroundCheckpoints(
  path: string,
  prisma: Db,
  tokens: SqliteTokenStore,
  lock: WriteLock,
  restartBytes = DEFAULT_CHECKPOINTER.restartBytes,
): Promise<Checkpointer> {
  await prisma.$executeRawUnsafe("PRAGMA wal_autocheckpoint = 0");
  tokens.autocheckpoint(0);
  return new Checkpointer(path, {
    ...DEFAULT_CHECKPOINTER,
    restartBytes,
    // The worker catches up while this process's writes wait in the lock's queue.
    pause: (drain) => lock.run(drain),
    onStop(error) {
      tokens.autocheckpoint(INLINE_CHECKPOINT_PAGES);
      prisma.$executeRawUnsafe("PRAGMA wal_autocheckpoint = 1000").catch(() => undefined);
      process.emitWarning(`appgrant: the WAL checkpoint worker stopped (${String(error)}); checkpointing inline again`);
    },
  });
}

/** `status` defaults to one that logs nowhere (the CLI reports errors itself); `tracing` traces the token store's statements. */
export async function openDatabase(
  location: DatabaseLocation,
  settings: DatabaseSettings = DEFAULT_DATABASE_SETTINGS,
  status: DependencyStatus = new DependencyStatus("database", { error() {}, info() {} }),
  tracing: Tracing = NO_TRACING,
): Promise<Database> {
  if (location.kind === "sqlite") {
    // Opening waits, like a write, for another process that holds the database
    // exclusively for a moment (the last connection to close checkpoints the WAL).
    const deadline = performance.now() + settings.queryTimeoutMs;
    const busyTimeoutMs = settings.sqliteBusyTimeoutMs ?? 0;
    const prisma = await connectSqlite(location.path, settings.queryTimeoutMs, busyTimeoutMs);
    const lock = new WriteLock({ deadlineMs: settings.queryTimeoutMs, status });
    const tokens = await retryWhileBusy(
      () => openSqliteTokenStore(location.path, lock, tracing, busyTimeoutMs),
      deadline,
      settings.queryTimeoutMs,
    ).catch(async (error: unknown) => {
      await prisma.$disconnect();
      throw error;
    });
    const checkpointer = settings.backgroundCheckpoints
      ? await backgroundCheckpoints(location.path, prisma, tokens, lock, settings.walRestartBytes)
      : undefined;
    return {
      prisma,
      tokens,
      // A transaction that met another process's write lock was rolled back by Prisma;
      // the lock runs it again, whole, until its deadline.
      transaction: (fn) => lock.run(() => prisma.$transaction(fn)),
      ping: async () => {
        await Promise.all([prisma.$queryRawUnsafe("SELECT 1"), tokens.ping()]);
      },
      status,
      stats: () => ({ writeLock: lock.stats, reads: tokens.reads, checkpoints: checkpointer?.checkpoints, checkpointPauses: checkpointer?.pauses }),
      async close() {
        await checkpointer?.close();
        await tokens.close();
        await prisma.$disconnect();
      },
    };
  }
  const { pool, schema, end } = createPool(location, settings, status);
  const prisma = connectPostgres(pool, schema);
  // Prisma's first query loads its query compiler (~0.5 s here): paid now, at start,
  // not by the first request or the first /readyz, which have deadlines. A database
  // down at this moment is the requests' to report, as later.
  await prisma.$queryRawUnsafe("SELECT 1").catch(() => undefined);
  const tokens = createPostgresTokenStore(pool, tracing, location);
  // Prisma's own limits on an interactive transaction, beyond the pool's: the wait to
  // start one (acquire + BEGIN), and its whole length.
  const transactionOptions = {
    maxWait: settings.connectTimeoutMs + settings.queryTimeoutMs,
    timeout: Math.max(5000, 2 * settings.queryTimeoutMs),
  };
  return {
    prisma,
    tokens,
    transaction: (fn) => prisma.$transaction(fn, transactionOptions),
    ping: async () => {
      await Promise.all([prisma.$queryRawUnsafe("SELECT 1"), tokens.ping()]);
    },
    status,
    stats: () => ({ pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } }),
    async close() {
      await prisma.$disconnect();
      await end(settings.connectTimeoutMs + settings.queryTimeoutMs);
    },
  };
}

/** The configured server keys, or (SQLite only) the key file next to the database. */
export function resolveSecretKey(config: KeySettings): ServerKeys {
  if (config.secretKeys !== undefined) return new ServerKeys(config.secretKeys);
  // PostgreSQL without keys is refused by the configuration (several processes must share them).
  if (config.database.kind !== "sqlite") throw new Error("APPGRANT_SECRET_KEY is required with PostgreSQL");
  return new ServerKeys(loadOrCreateKeyFile(keyFileFor(config.database.path)));
}
