// One command for a change of the data model: `npm run db:migration <name>` after
// editing prisma/schema.prisma. It regenerates the PostgreSQL schema copy, writes the
// migration of each database (the difference between what the committed migrations
// build and what the schema now says) and regenerates both Prisma clients.
//
// What the migrations build is found the way test/storage/migrations.test.ts checks
// it: apply them to a scratch SQLite database and introspect it (the WASM schema
// engine, the one that works offline, can introspect but cannot diff from a database
// or a migrations folder). The PostgreSQL schema is the SQLite one with another
// provider, so the same introspected model, with that provider, is PostgreSQL's
// starting point.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MIGRATIONS_DIR, migrateSqlite, POSTGRES_MIGRATIONS_DIR } from "../src/storage/migrate.js";
import { postgresSchema, SOURCE, TARGET } from "./postgres-schema.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PRISMA = join(ROOT, "node_modules", "prisma", "build", "index.js");
const EMPTY = /^-- This is an empty migration\.\s*$/;

function prisma(args: string[], databaseUrl: string): string {
  return execFileSync(process.execPath, [PRISMA, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, CHECKPOINT_DISABLE: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1", NO_COLOR: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  });
}

export interface Plan {
  /** SQL of each database's new migration; empty when the schema adds nothing. */
  sqlite: string;
  postgres: string;
}

/** The migrations that take the committed migrations to `schema` (default: prisma/schema.prisma). */
export function planMigration(schema: string = readFileSync(SOURCE, "utf8")): Plan {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-migration-"));
  try {
    const database = join(dir, "migrated.db");
    const url = `file:${database}`;
    migrateSqlite(database);
    const pulled = prisma(["db", "pull", "--print"], url);
    const start = pulled.search(/^(generator|datasource) /m);
    if (start < 0) throw new Error(`prisma db pull printed no schema:\n${pulled}`);
    const files = {
      migrated: join(dir, "migrated.prisma"),
      migratedPostgres: join(dir, "migrated-postgres.prisma"),
      schema: join(dir, "schema.prisma"),
      schemaPostgres: join(dir, "schema-postgres.prisma"),
    };
    writeFileSync(files.migrated, pulled.slice(start));
    writeFileSync(files.migratedPostgres, postgresSchema(pulled.slice(start)));
    writeFileSync(files.schema, schema);
    writeFileSync(files.schemaPostgres, postgresSchema(schema));
    const diff = (from: string, to: string) =>
      prisma(["migrate", "diff", "--from-schema-datamodel", from, "--to-schema-datamodel", to, "--script"], url).trim();
    const clean = (sql: string) => (EMPTY.test(sql) ? "" : `${sql}\n`);
    return { sqlite: clean(diff(files.migrated, files.schema)), postgres: clean(diff(files.migratedPostgres, files.schemaPostgres)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prisma's migration folder name: UTC timestamp, then the name. */
export function migrationName(name: string, now = new Date()): string {
  if (!/^[a-z][a-z0-9_]{0,60}$/.test(name)) throw new Error(`"${name}": a migration name is lower-case letters, digits and _, e.g. add_key_table`);
  return `${now.toISOString().replace(/[-:T]/g, "").slice(0, 14)}_${name}`;
}

function main(name: string | undefined): number {
  if (name === undefined) {
    process.stderr.write("usage: npm run db:migration <name>   (after editing prisma/schema.prisma)\n");
    return 2;
  }
  const folder = migrationName(name);
  writeFileSync(TARGET, postgresSchema(readFileSync(SOURCE, "utf8")));
  const plan = planMigration();
  if (plan.sqlite === "" && plan.postgres === "") {
    process.stdout.write("prisma/schema.prisma matches the committed migrations: no migration written.\n");
  } else {
    for (const [dir, sql] of [
      [MIGRATIONS_DIR, plan.sqlite],
      [POSTGRES_MIGRATIONS_DIR, plan.postgres],
    ] as const) {
      mkdirSync(join(dir, folder), { recursive: true });
      writeFileSync(join(dir, folder, "migration.sql"), sql);
      process.stdout.write(`wrote ${join(dir, folder, "migration.sql")}\n`);
    }
  }
  // Both clients: what the app and the tests compile against.
  prisma(["generate", "--no-hints"], "file:./data/appgrant.db");
  prisma(["generate", "--no-hints", "--schema", TARGET], "file:./data/appgrant.db");
  process.stdout.write("Prisma clients regenerated. Review the SQL, then run the tests on both databases.\n");
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv[2]);
  } catch (error) {
    process.stderr.write(`db:migration: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
