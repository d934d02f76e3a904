// Applies the committed migrations in prisma/migrations at start-up, idempotently,
// recording them in Prisma's own `_prisma_migrations` table (same columns and
// checksums) so `prisma migrate status` and `prisma migrate deploy` agree with it.
// It runs in-process because Prisma's migrate engine is a separate native binary in
// most set-ups; here every migration and its bookkeeping row commit together.
import Database from "better-sqlite3";
import pg from "pg";
import { DEFAULT_DATABASE_SETTINGS, type DatabaseLocation, type DatabaseSettings, type PostgresLocation } from "./settings.js";
import { prepareDataDirectory } from "./data-directory.js";
import { connectionDeadlines } from "./postgres.js";
import { retryWhileBusy } from "./write-lock.js";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** prisma/migrations, found from src/db or dist/db alike. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

const SQLITE_BOOKKEEPING = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  override name = "MigrationError";
}

/** Applies pending migrations; returns the names applied (empty when up to date). */
export function migrateSqlite(path: string, migrations: Migration[] = readMigrations()): string[] {
  prepareDataDirectory(path);
  const db = new Database(path, { timeout: 10_000 });
  try {
    // WAL is a property of the file: set once here, every later connection uses it.
    db.pragma("journal_mode = WAL");
    db.exec(SQLITE_BOOKKEEPING);
    const applied: string[] = [];
    // BEGIN IMMEDIATE takes the write lock first, so two processes starting at once
    // cannot both apply the same migration.
    const run = db.transaction(() => {
      const rows = db.prepare(`SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`).all() as {
        migration_name: string;
        checksum: string;
        finished_at: string | null;
      }[];
      const failed = rows.find((row) => row.finished_at === null);
      if (failed) {
        throw new MigrationError(
          `migration ${failed.migration_name} started but did not finish; resolve it (prisma migrate resolve) before starting`,
        );
      }
      const done = new Set(rows.map((row) => row.migration_name));
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        db.exec(migration.sql);
        db.prepare(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES (?, ?, ?, ?, ?, 1)`,
        ).run(randomUUID(), migration.checksum, new Date().toISOString(), migration.name, new Date().toISOString());
        applied.push(migration.name);
      }
    });
    run.immediate();
    return applied;
  } finally {
    db.close();
  }
}

export const POSTGRES_MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/postgres/migrations", import.meta.url));

const POSTGRES_BOOKKEEPING = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/**
 * PostgreSQL: several processes may start at once, so the whole run holds an
 * advisory lock (per schema); each migration commits with its bookkeeping row.
 */
export async function migratePostgres(
  location: PostgresLocation,
  migrations: Migration[] = readMigrations(POSTGRES_MIGRATIONS_DIR),
  settings: Pick<DatabaseSettings, "connectTimeoutMs"> = DEFAULT_DATABASE_SETTINGS,
): Promise<string[]> {
  const { connectionString, schema } = location;
  // The pool's connect deadline and keepalive; no statement deadline, since a migration
  // or the wait for another process's migration lock may rightly take long. A lost
  // connection fails the statement in progress; without this listener the 'error'
  // event would end the process first.
  const client = new pg.Client({ ...connectionDeadlines(settings), connectionString });
  client.on("error", () => undefined);
  await client.connect();
  const lockKey = `appgrant-migrate:${schema}`;
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockKey]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET search_path TO "${schema}"`);
    await client.query(POSTGRES_BOOKKEEPING);
    const { rows } = await client.query<{ migration_name: string; finished_at: Date | null }>(
      `SELECT migration_name, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const failed = rows.find((row) => row.finished_at === null);
    if (failed) {
      throw new MigrationError(`migration ${failed.migration_name} started but did not finish; resolve it (prisma migrate resolve) before starting`);
    }
    const done = new Set(rows.map((row) => row.migration_name));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.name)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, now(), 1)`,
          [randomUUID(), migration.checksum, migration.name],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
      applied.push(migration.name);
    }
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockKey]).catch(() => undefined);
    await client.end();
  }
}

/** Applies pending migrations to the configured database; returns the names applied. */
/** ms SQLite's migrations may wait, beyond the busy timeout, for processes that hold the file exclusively for a moment. */
const SQLITE_MIGRATION_DEADLINE_MS = 10_000;

export async function migrateDatabase(location: DatabaseLocation): Promise<string[]> {
  if (location.kind !== "sqlite") return migratePostgres(location);
  // The busy timeout covers lock waits, not SQLITE_BUSY answered at once (another
  // process checkpointing the WAL as it closes, several processes starting together):
  // the whole run, which checks what is applied inside its transaction, is tried again.
  return retryWhileBusy(() => migrateSqlite(location.path), performance.now() + SQLITE_MIGRATION_DEADLINE_MS, SQLITE_MIGRATION_DEADLINE_MS);
}
