import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { MIGRATIONS_DIR, MigrationError, migrateDatabase, migrateSqlite, readMigrations } from "../../src/storage/migrate.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PRISMA_CLI = join(ROOT, "node_modules/prisma/build/index.js");
const SCHEMA = join(ROOT, "prisma/schema.prisma");

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-migrations-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the project's Prisma CLI (prisma.config.ts: WASM schema engine, no download) against DATABASE_URL. */
function prisma(args: string[], databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PRISMA_CLI, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: databaseUrl, CHECKPOINT_DISABLE: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1", NO_COLOR: "1" },
        timeout: 90_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The migration directories as found on disk, with Prisma's checksum (SHA-256 hex of migration.sql). */
function migrationsOnDisk(): { name: string; checksum: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((name) => statSync(join(MIGRATIONS_DIR, name)).isDirectory())
    .sort()
    .map((name) => ({
      name,
      checksum: createHash("sha256")
        .update(readFileSync(join(MIGRATIONS_DIR, name, "migration.sql")))
        .digest("hex"),
    }));
}

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

t.test("applies every migration once; a second run applies nothing", async (t) => {
  const path = join(tempDir(t), "app.db");
  const url = `file:${path}`;
  const onDisk = migrationsOnDisk();
  t.ok(onDisk.length > 0, "there are migrations to apply");
  t.same(
    await migrateDatabase(parseDatabaseUrl(url)),
    onDisk.map((m) => m.name),
    "the first run applies all of them, in order",
  );
  t.same(await migrateDatabase(parseDatabaseUrl(url)), [], "the second run applies nothing");
  t.same(await migrateDatabase(parseDatabaseUrl(url)), [], "nor does a third");
  // A model's table is its name, or the one its @@map gives.
  const models = [...readFileSync(SCHEMA, "utf8").matchAll(/^model (\w+) \{([^}]*)\}/gm)].map((m) => /@@map\("(\w+)"\)/.exec(m[2]!)?.[1] ?? m[1]!);
  t.ok(models.includes("Application"));
  t.ok(models.includes("Grant"), "AuthorizationCode keeps its table");
  t.same(tables(path), [...models, "_prisma_migrations"].sort(), "one table per model of schema.prisma, plus Prisma's bookkeeping");
});

t.test("records each migration in _prisma_migrations with its name and SHA-256 checksum", async (t) => {
  const path = join(tempDir(t), "app.db");
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  const db = new Database(path, { readonly: true });
  const rows = db
    .prepare(`SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`)
    .all() as { migration_name: string; checksum: string; finished_at: string | null; rolled_back_at: string | null; applied_steps_count: number }[];
  db.close();
  const onDisk = migrationsOnDisk();
  t.same(
    rows.map((r) => ({ name: r.migration_name, checksum: r.checksum })),
    onDisk,
    "one row per migration, with the checksum Prisma computes from migration.sql",
  );
  t.same(
    readMigrations().map((m) => ({ name: m.name, checksum: m.checksum })),
    onDisk,
    "readMigrations() agrees with the files",
  );
  for (const row of rows) {
    t.ok(row.finished_at, `${row.migration_name} is finished`);
    t.equal(row.rolled_back_at, null);
    t.equal(row.applied_steps_count, 1);
  }
});

t.test("prisma migrate deploy sees the in-process migrator's work as complete", async (t) => {
  const path = join(tempDir(t), "app.db");
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  const deploy = await prisma(["migrate", "deploy"], `file:${path}`);
  t.equal(deploy.code, 0, deploy.stderr);
  t.match(deploy.stdout, /No pending migrations to apply/);
});

t.test("applies a new migration on top of earlier ones, and a failing one leaves no trace", async (t) => {
  const path = join(tempDir(t), "app.db");
  const base = readMigrations();
  migrateSqlite(path, base);
  const added = { name: "29990101000000_add_note", sql: 'ALTER TABLE "Application" ADD COLUMN "note" TEXT;', checksum: "x" };
  t.same(migrateSqlite(path, [...base, added]), [added.name], "only the new migration is applied");

  const broken = {
    name: "29990102000000_broken",
    sql: 'CREATE TABLE "Half" ("id" TEXT PRIMARY KEY); ALTER TABLE "NoSuchTable" ADD COLUMN "x" TEXT;',
    checksum: "y",
  };
  t.throws(() => migrateSqlite(path, [...base, added, broken]), /NoSuchTable/);
  t.notOk(tables(path).includes("Half"), "the failed migration's first statement was rolled back");
  const db = new Database(path, { readonly: true });
  const names = (db.prepare(`SELECT migration_name FROM "_prisma_migrations"`).all() as { migration_name: string }[]).map((r) => r.migration_name);
  db.close();
  t.notOk(names.includes(broken.name), "and it was not recorded");
  t.same(migrateSqlite(path, [...base, added]), [], "the database is usable at the last good migration");
});

t.test("refuses to start over a migration that started but did not finish", async (t) => {
  const path = join(tempDir(t), "app.db");
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  const db = new Database(path);
  db.prepare(`UPDATE "_prisma_migrations" SET finished_at = NULL`).run();
  db.close();
  t.throws(() => migrateSqlite(path), MigrationError);
  t.throws(() => migrateSqlite(path), /did not finish/);
});

t.test("creates the database's directory when it does not exist (server start-up path)", async (t) => {
  const dir = join(tempDir(t), "not", "yet", "there");
  t.notOk(existsSync(dir));
  const applied = await migrateDatabase(parseDatabaseUrl(`file:${join(dir, "appgrant.db")}`));
  t.same(
    applied,
    migrationsOnDisk().map((m) => m.name),
  );
  t.ok(existsSync(join(dir, "appgrant.db")), "the directory and the database file were created");
});

t.test("the migrations produce exactly the schema in prisma/schema.prisma", async (t) => {
  const dir = tempDir(t);
  const url = `file:${join(dir, "migrated.db")}`;
  await migrateDatabase(parseDatabaseUrl(url));

  // Introspect the migrated database (the WASM engine cannot diff from a URL or from
  // the migrations directory when a driver adapter is configured; it can introspect).
  const pull = await prisma(["db", "pull", "--print"], url);
  t.equal(pull.code, 0, pull.stderr);
  const start = pull.stdout.search(/^(generator|datasource) /m);
  t.ok(start >= 0, "db pull printed a schema");
  const introspected = join(dir, "introspected.prisma");
  writeFileSync(introspected, pull.stdout.slice(start));
  t.match(readFileSync(introspected, "utf8"), /model Installation \{/, "the introspected schema has the tables");

  const diff = (to: string) => prisma(["migrate", "diff", "--from-schema-datamodel", introspected, "--to-schema-datamodel", to, "--exit-code"], url);
  const same = await diff(SCHEMA);
  t.equal(same.code, 0, `no difference between the migrated database and schema.prisma:\n${same.stdout}${same.stderr}`);
  t.match(same.stdout, /No difference detected/);

  // The check can fail: a column in the schema that no migration creates is reported.
  const modified = join(dir, "modified.prisma");
  const schema = readFileSync(SCHEMA, "utf8");
  t.match(schema, /^model Application \{$/m);
  writeFileSync(modified, schema.replace(/^model Application \{$/m, "model Application {\n  unmigratedColumn String?"));
  const differs = await diff(modified);
  t.equal(differs.code, 2, "a schema change without a migration is a difference");
  t.match(differs.stdout, /unmigratedColumn/);

  // And the other way round: a column only the database has is reported too.
  const drifted = `file:${join(dir, "drifted.db")}`;
  await migrateDatabase(parseDatabaseUrl(drifted));
  const db = new Database(drifted.slice("file:".length));
  db.exec(`ALTER TABLE "Grant" ADD COLUMN "driftColumn" TEXT`);
  db.close();
  const pulledDrift = await prisma(["db", "pull", "--print"], drifted);
  const driftSchema = join(dir, "drifted.prisma");
  writeFileSync(driftSchema, pulledDrift.stdout.slice(pulledDrift.stdout.search(/^(generator|datasource) /m)));
  const driftDiff = await prisma(
    ["migrate", "diff", "--from-schema-datamodel", driftSchema, "--to-schema-datamodel", SCHEMA, "--exit-code"],
    drifted,
  );
  t.equal(driftDiff.code, 2, "a migration that adds a column the schema lacks is a difference");
  t.match(driftDiff.stdout, /`Grant`/, "on the table that drifted");
});

t.test("the delivery_webhook_timestamp migration erases the codes that ended deliveries still kept", async (t) => {
  const path = join(tempDir(t), "ended.db");
  const all = readMigrations();
  const index = all.findIndex((m) => m.name.endsWith("_delivery_webhook_timestamp"));
  t.ok(index > 0, "the migration exists");
  migrateSqlite(path, all.slice(0, index));
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO "WebhookDelivery" ("id", "eventId", "applicationId", "type", "payload", "codeEncrypted", "status", "nextAttemptAt", "createdAt")
     VALUES (?, 'e', 'a', 'installation.created', '{}', ?, ?, '2026-12-01 00:00:00', '2026-12-01 00:00:00')`,
  );
  insert.run("delivered", "sealed-1", "delivered");
  insert.run("failed", "sealed-2", "failed");
  insert.run("pending", "sealed-3", "pending");
  db.close();
  t.same(migrateSqlite(path), [all[index]!.name, ...all.slice(index + 1).map((m) => m.name)], "the rest applied");
  const after = new Database(path, { readonly: true });
  t.teardown(() => after.close());
  const codes = Object.fromEntries(
    (after.prepare(`SELECT "id", "codeEncrypted" FROM "WebhookDelivery"`).all() as { id: string; codeEncrypted: string | null }[]).map((row) => [
      row.id,
      row.codeEncrypted,
    ]),
  );
  t.same(codes, { delivered: null, failed: null, pending: "sealed-3" }, "ended deliveries keep no code; a pending one keeps its own");
});

t.test("the token_selectors migration keeps earlier tokens findable by their hashes and drops the hash indexes", async (t) => {
  const path = join(tempDir(t), "selectors.db");
  const all = readMigrations();
  const index = all.findIndex((m) => m.name.endsWith("_token_selectors"));
  t.ok(index > 0, "the migration exists");
  migrateSqlite(path, all.slice(0, index));
  const db = new Database(path);
  db.pragma("foreign_keys = OFF"); // the token rows alone: their application and installation do not matter here
  const insert = db.prepare(
    `INSERT INTO "Token" ("id", "accessTokenHash", "refreshTokenHash", "applicationId", "installationId", "clientId", "account", "familyId",
       "generation", "scopes", "createdAt", "accessExpiresAt", "refreshExpiresAt")
     VALUES (?, ?, ?, 'a', 'i', 'c', 'acme', ?, 1, 'read', '2026-12-01 00:00:00', '2026-12-01 08:00:00', '2026-12-31 00:00:00')`,
  );
  insert.run("pair", "a".repeat(64), "b".repeat(64), "pair");
  insert.run("alone", "c".repeat(64), null, "alone");
  db.close();
  t.same(migrateSqlite(path), [all[index]!.name, ...all.slice(index + 1).map((m) => m.name)], "the rest applied");
  const after = new Database(path, { readonly: true });
  t.teardown(() => after.close());
  t.same(
    after.prepare(`SELECT "hash", "tokenId" FROM "LegacyTokenHash" ORDER BY "hash"`).all(),
    [
      { hash: "a".repeat(64), tokenId: "pair" },
      { hash: "b".repeat(64), tokenId: "pair" },
      { hash: "c".repeat(64), tokenId: "alone" },
    ],
    "every earlier access and refresh token hash, by its row",
  );
  const indexes = (after.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Token'`).all() as { name: string }[]).map(
    (row) => row.name,
  );
  t.notOk(
    indexes.some((name) => name.includes("TokenHash")),
    `no index of token hashes on Token (${indexes.join(", ")})`,
  );
});
