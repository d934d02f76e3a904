// openapi.yaml is generated from the route schemas (src/http/openapi.ts): this script
// builds the app on a throwaway SQLite database, without listening, and writes what
// @fastify/swagger makes of its routes. test/http/openapi.test.ts fails while the
// committed copy differs. Run: npm run openapi
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { buildApp } from "../src/main/app.js";
import { loadConfig } from "../src/main/config.js";
import { migrateDatabase } from "../src/storage/migrate.js";

export const TARGET = fileURLToPath(new URL("../openapi.yaml", import.meta.url));

const HEADER = "# GENERATED from the route schemas by scripts/openapi.ts (npm run openapi): do not edit.\n";

/** The document as YAML, exactly as written to openapi.yaml. */
export async function generateOpenApi(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-openapi-"));
  try {
    // Only what buildApp needs; nothing of the caller's environment reaches the document.
    const config = loadConfig({ DATABASE_URL: `file:${join(dir, "openapi.db")}`, APPGRANT_SECRET_KEY: "0".repeat(64), LOG_LEVEL: "silent" }, dir);
    await migrateDatabase(config.database);
    const app = await buildApp({ config });
    try {
      await app.ready();
      // app.swagger({ yaml: true }) would write the objects the routes share (tags,
      // security, headers) as YAML anchors and aliases (`tags: *a3`): spelled out here,
      // so that every operation reads on its own.
      return HEADER + stringify(app.swagger(), { aliasDuplicateObjects: false });
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TARGET, await generateOpenApi());
  process.stdout.write(`wrote ${TARGET}\n`);
}
