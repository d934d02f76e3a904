// `npm run db:migration <name>` (scripts/db-migration.ts): the migration of each
// database is what takes the committed migrations to prisma/schema.prisma.
import { readFileSync } from "node:fs";
import t from "tap";
import { migrationName, planMigration } from "../../scripts/db-migration.js";
import { SOURCE } from "../../scripts/postgres-schema.js";

t.test("the committed migrations build the schema: nothing to write; a new column: one ALTER TABLE per database", async (t) => {
  t.same(planMigration(), { sqlite: "", postgres: "" });
  const schema = readFileSync(SOURCE, "utf8");
  t.match(schema, /^model Installation \{$/m);
  const plan = planMigration(schema.replace(/^model Installation \{$/m, "model Installation {\n  archivedNote String?"));
  t.match(plan.sqlite, /ALTER TABLE "Installation" ADD COLUMN "archivedNote" TEXT;/);
  t.match(plan.postgres, /ALTER TABLE "Installation" ADD COLUMN\s+"archivedNote" TEXT;/);
});

t.test("migration folders are named as Prisma names them", async (t) => {
  t.equal(migrationName("add_keys", new Date("2026-12-02T13:04:05Z")), "20261202130405_add_keys");
  t.throws(() => migrationName("Add Keys"), /lower-case letters/);
  t.throws(() => migrationName(""), /lower-case letters/);
});
