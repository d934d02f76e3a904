// prisma/schema.prisma (SQLite) is the one source of truth for the data model. The
// PostgreSQL schema is generated from it by this script, changing only what is
// provider-specific; test/storage/postgres-schema.test.ts fails when the committed copy is
// stale. Run: npm run db:postgres-schema
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const SOURCE = `${root}prisma/schema.prisma`;
export const TARGET = `${root}prisma/postgres/schema.prisma`;

export function postgresSchema(source: string): string {
  const replace = (text: string, from: RegExp, to: string) => {
    if (!from.test(text)) throw new Error(`postgres-schema: ${from} not found in prisma/schema.prisma`);
    return text.replace(from, to);
  };
  let out = replace(source, /provider = "sqlite"/, 'provider = "postgresql"');
  out = replace(out, /output\s*=\s*"\.\.\/src\/generated\/prisma"/, 'output              = "../../src/generated/postgres"');
  return `// GENERATED from prisma/schema.prisma by scripts/postgres-schema.ts: do not edit.\n${out}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TARGET, postgresSchema(readFileSync(SOURCE, "utf8")));
  process.stdout.write(`wrote ${TARGET}\n`);
}
