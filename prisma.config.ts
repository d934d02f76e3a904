// Prisma CLI configuration: the WASM schema engine with a driver adapter, so
// `prisma generate`, `migrate deploy|status|diff` and `db execute` work without
// downloading Prisma's native engines (see README, "Database").
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseDatabaseUrl } from "./src/storage/settings.js";

// The schema's datasource reads DATABASE_URL; without it the CLI cannot read the
// schema and falls back to downloading the native engine. Default it like the server does.
process.env.DATABASE_URL ??= "file:./data/appgrant.db";
const url = process.env.DATABASE_URL;
const database = parseDatabaseUrl(url);
if (database.kind === "sqlite") mkdirSync(dirname(database.path), { recursive: true });

export default defineConfig({
  experimental: { adapter: true },
  schema: "prisma/schema.prisma",
  engine: "js",
  async adapter() {
    return new PrismaBetterSQLite3(
      { url },
      { shadowDatabaseUrl: ":memory:" },
    );
  },
});
