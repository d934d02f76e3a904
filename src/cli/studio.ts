// `appgrant studio`: Prisma Studio on the configured database. Prisma 6's Studio needs
// a native engine that cannot be downloaded here, so this runs Prisma 7's, which
// reads the database directly (see docs: Prisma on machines that reach only npm).
import { spawn } from "node:child_process";
import { constants, tmpdir } from "node:os";
import { optionalString, UsageError } from "./args.js";
import type { Command } from "./command.js";
import type { DatabaseLocation } from "../storage/settings.js";
import { describeDatabase, migratedConfig } from "./context.js";
import { print } from "./output.js";

export const STUDIO_PRISMA_VERSION = "7.10.1";
export const DEFAULT_STUDIO_PORT = 5555;

export interface Invocation {
  command: string;
  args: string[];
}

/**
 * Prisma 7 Studio refuses relative SQLite URLs: it wants file:///absolute/path (the
 * config has already made the path absolute). On Node 20 it opens SQLite through
 * better-sqlite3, which npx must install beside it.
 */
export function studioInvocation(database: DatabaseLocation, port: number): Invocation {
  const sqlite = database.kind === "sqlite";
  const packages = ["-p", `prisma@${STUDIO_PRISMA_VERSION}`, ...(sqlite ? ["-p", "better-sqlite3@12"] : [])];
  // Not pathToFileURL: Studio uses the path as written and would look for "%20" in a file name.
  const url = sqlite ? `file://${database.path}` : database.url;
  return { command: "npx", args: ["--yes", ...packages, "prisma", "studio", "--port", String(port), "--browser", "none", "--url", url] };
}

/**
 * Runs the child with our stdout/stderr; SIGINT/SIGTERM sent to us go to it too.
 * Resolves to its exit code. The child leads its own process group and the signal
 * goes to the whole group: npm passes a signal only to the `sh -c` it wraps the
 * command in, which would leave Studio itself running, orphaned, on the port.
 */
export function runAttached(invocation: Invocation, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // stdin is not passed on: a background process group reading the terminal would be stopped (SIGTTIN).
    const child = spawn(invocation.command, invocation.args, { stdio: ["ignore", "inherit", "inherit"], cwd, detached: true });
    const forward = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // The group is already gone: its exit event is on its way.
      }
    };
    const signals = ["SIGINT", "SIGTERM"] as const;
    for (const signal of signals) process.on(signal, forward);
    const stopForwarding = () => {
      for (const signal of signals) process.off(signal, forward);
    };
    child.once("error", (error) => {
      stopForwarding();
      reject(new Error(`could not start ${invocation.command}: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      stopForwarding();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

function port(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_STUDIO_PORT;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) throw new UsageError(`--port must be from 1 to 65535, got "${raw}"`);
  return Number(raw);
}

export const studioCommand: Command = {
  usage: `[--port ${DEFAULT_STUDIO_PORT}]`,
  summary: "browse the database in Prisma Studio (hashes only: no usable secret is stored)",
  options: { port: { type: "string" } },
  async run({ values }) {
    const studioPort = port(optionalString(values, "port"));
    // Studio shows tables, not the Prisma schema: on an unmigrated database there would be nothing to browse.
    const config = await migratedConfig();
    print(`Prisma Studio for ${describeDatabase(config.database)}`);
    // Studio opens PostgreSQL on "public" whatever the URL's ?schema= says.
    const schema = config.database.kind === "sqlite" ? null : config.database.schema;
    if (schema !== null && schema !== "public") print(`Choose the schema "${schema}" in Studio's Schema menu.`);
    print(`Open http://localhost:${studioPort} (Ctrl-C stops it; the first run downloads Prisma ${STUDIO_PRISMA_VERSION}, about two minutes).`);
    // Run outside the project as a precaution: neither the project's Prisma 6 bin nor its
    // prisma.config.ts (written for Prisma 6) can then get in Prisma 7's way.
    return runAttached(studioInvocation(config.database, studioPort), tmpdir());
  },
};
