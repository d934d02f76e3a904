// One source of truth for the data model: prisma/postgres/schema.prisma is generated
// from prisma/schema.prisma, and the PostgreSQL migrations build exactly that schema.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import t from "tap";
import { migratePostgres } from "../../src/storage/migrate.js";
import { postgresSchema, SOURCE, TARGET } from "../../scripts/postgres-schema.js";
import { parsePostgresUrl } from "../../src/storage/settings.js";

t.test("the PostgreSQL schema is the SQLite schema with only the provider and output changed", async (t) => {
  const source = readFileSync(SOURCE, "utf8");
  const committed = readFileSync(TARGET, "utf8");
  t.equal(committed, postgresSchema(source), "prisma/postgres/schema.prisma is stale: run npm run db:postgres-schema");
  const strip = (text: string) =>
    text
      .split("\n")
      .filter((line) => !/^\s*(provider|output)\s*=/.test(line) && !line.startsWith("// GENERATED"))
      .join("\n");
  t.equal(strip(committed), strip(source), "nothing else differs");
  t.throws(
    () => postgresSchema(source.replace('provider = "sqlite"', 'provider = "mysql"')),
    /not found/,
    "the generator refuses a source it does not understand",
  );
});

const url = process.env.TEST_DATABASE_URL;

/** Columns, types, nullability, defaults, indexes and constraints of one schema, as comparable text. */
async function describe(client: pg.Client, schema: string): Promise<string[]> {
  const unqualified = (def: string) => def.replaceAll(`"${schema}".`, "").replaceAll(`${schema}.`, "");
  const columns = await client.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = $1 AND table_name <> '_prisma_migrations' ORDER BY table_name, column_name`,
    [schema],
  );
  const indexes = await client.query(`SELECT tablename, indexname, indexdef AS def FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [
    schema,
  ]);
  const constraints = await client.query(
    `SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE connamespace = $1::regnamespace ORDER BY conname`,
    [schema],
  );
  return [
    ...columns.rows.map((r) => `column ${r.table_name}.${r.column_name} ${r.data_type} ${r.is_nullable} ${r.column_default ?? ""}`),
    ...indexes.rows.filter((r) => r.tablename !== "_prisma_migrations").map((r) => `index ${r.indexname} ${unqualified(String(r.def))}`),
    ...constraints.rows
      .filter((r) => !String(r.tbl).includes("_prisma_migrations"))
      .map((r) => `constraint ${r.conname} ${unqualified(String(r.def))}`),
  ];
}

t.test("the PostgreSQL migrations build exactly what the schema describes", { skip: url ? false : "TEST_DATABASE_URL is not set" }, async (t) => {
  const suffix = randomBytes(6).toString("hex");
  const migrated = `schema_check_m_${suffix}`;
  const expected = `schema_check_e_${suffix}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(async () => {
    await client.query(`DROP SCHEMA IF EXISTS "${migrated}" CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS "${expected}" CASCADE`);
    await client.end();
  });

  const withSchema = new URL(url!);
  withSchema.searchParams.set("schema", migrated);
  await migratePostgres(parsePostgresUrl(withSchema.toString()));

  // What the schema says today, straight from Prisma (offline: no database needed).
  const script = execFileSync("npx", ["prisma", "migrate", "diff", "--from-empty", "--to-schema-datamodel", TARGET, "--script"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  await client.query(`CREATE SCHEMA "${expected}"`);
  await client.query(`SET search_path TO "${expected}"`);
  await client.query(script);

  const [fromMigrations, fromSchema] = [await describe(client, migrated), await describe(client, expected)];
  t.ok(fromSchema.length > 50, "the comparison sees the tables");
  t.same(fromMigrations, fromSchema, "apply the migrations or write a new one (see README, Database)");
});
