// Runs the operator CLI as operators do: a child process (through tsx, so no build is
// needed) with DATABASE_URL in its environment, on a fresh data directory it must
// migrate itself.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export type Cli = ((...args: string[]) => Promise<Run>) & { env(extra: Record<string, string>, ...args: string[]): Promise<Run> };

export function run(env: Record<string, string>, args: string[]): Promise<Run> {
  // Only what node needs plus the test's own variables: the developer's PORT or LOG_LEVEL must not leak in.
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", MAIN, ...args], { env: { ...base, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI bound to a database file in a fresh directory (not created yet: the CLI must make it). */
export function cliOnFreshDir(t: { teardown(fn: () => unknown): void }): { cli: Cli; dbFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-cli-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, "data", "appgrant.db");
  const env = { DATABASE_URL: `file:${dbFile}` };
  const cli = ((...args: string[]) => run(env, args)) as Cli;
  cli.env = (extra, ...args) => run({ ...env, ...extra }, args);
  return { cli, dbFile };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read the CLI's JSON output by path, as a user's jq would
export function json(result: Run): any {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The value on a "key: value" line of human output. */
export function field(output: string, key: string): string | undefined {
  return output.match(new RegExp(`^${key}:\\s+(\\S.*)$`, "m"))?.[1];
}

export function databaseBytes(dbFile: string): string {
  return [dbFile, `${dbFile}-wal`]
    .filter(existsSync)
    .map((file) => readFileSync(file).toString("latin1"))
    .join("");
}

export const createArgs = [
  "apps",
  "create",
  "--name",
  "Deploy Bot",
  "--redirect-uri",
  "https://bot.example/cb",
  "--scope",
  "read",
  "--scope",
  "write",
];

/** How many migrations a fresh SQLite database gets: the folders of prisma/migrations. */
export const MIGRATION_COUNT = readdirSync(fileURLToPath(new URL("../../prisma/migrations", import.meta.url)), { withFileTypes: true }).filter(
  (entry) => entry.isDirectory(),
).length;
