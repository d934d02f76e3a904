// `appgrant migrate` and `appgrant serve`.
import { loadConfig } from "../config.js";
import type { Command } from "./command.js";
import { describeDatabase, migrate } from "./context.js";
import { print, printJson } from "./output.js";

export const migrateCommand: Command = {
  usage: "",
  summary: "apply pending database migrations (every other command does this too)",
  async run({ json }) {
    const config = loadConfig(process.env);
    const applied = await migrate(config);
    const database = describeDatabase(config.databaseUrl);
    if (json) return printJson({ database, applied });
    if (applied.length === 0) return print(`${database}: up to date, no pending migrations.`);
    print(`${database}: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join("\n")}`);
  },
};

export const serveCommand: Command = {
  usage: "",
  summary: "start the HTTP server (same as npm start)",
  async run() {
    // Loaded on demand: the other commands need neither Fastify nor its plugins.
    const { serve } = await import("../server.js");
    await serve();
  },
};
