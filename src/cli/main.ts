// The operator CLI: `appgrant <command> …`. A table of commands, each calling
// src/domain against the configured database (never the HTTP API).
import { NAME, VERSION } from "../shared/version.js";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { ConfigError } from "../main/config.js";
import { DomainError } from "../domain/errors.js";
import { appCommands } from "./apps.js";
import { parseCommand, UsageError } from "./args.js";
import type { Command, CommandTable } from "./command.js";
import { eventCommands } from "./events.js";
import { installCommands } from "./installs.js";
import { deliveryCommands } from "./deliveries.js";
import { deviceCommands } from "./device.js";
import { keyCommands } from "./keys.js";
import { migrateCommand, purgeCommand, serveCommand } from "./migrate.js";
import { studioCommand } from "./studio.js";
import { commandUsage, groupUsage, usage } from "./usage.js";

export const COMMANDS: CommandTable = {
  ...appCommands,
  ...installCommands,
  ...deliveryCommands,
  ...deviceCommands,
  ...keyCommands,
  ...eventCommands,
  migrate: migrateCommand,
  purge: purgeCommand,
  serve: serveCommand,
  studio: studioCommand,
};

const HELP = new Set(["help", "--help", "-h"]);

function resolve(argv: string[]): { name: string; command: Command; rest: string[] } {
  const [first, second] = argv as [string, string | undefined];
  const single = COMMANDS[first];
  if (single) return { name: first, command: single, rest: argv.slice(1) };
  const pair = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
  if (pair) return { name: `${first} ${second}`, command: pair, rest: argv.slice(2) };
  const group = groupUsage(COMMANDS, first);
  if (group === undefined) throw new UsageError(`unknown command "${first}"`);
  throw new UsageError(second === undefined ? `"${first}" needs a subcommand` : `unknown command "${first} ${second}"`);
}

/** Runs one command line; resolves to the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  // `appgrant --json apps list` reads naturally too; every command parses --json itself.
  if (argv[0] === "--json") argv = [...argv.slice(1), "--json"];
  if (argv.length === 0 || argv[0] === "--json") {
    process.stderr.write(`${usage(COMMANDS)}\n`);
    return 2;
  }
  if (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "version") {
    process.stdout.write(`${NAME} ${VERSION}\n`);
    return 0;
  }
  if (HELP.has(argv[0]!)) {
    const topic = argv.slice(1).join(" ");
    const command = COMMANDS[topic];
    process.stdout.write(`${command ? commandUsage(topic, command) : (groupUsage(COMMANDS, topic) ?? usage(COMMANDS))}\n`);
    return 0;
  }
  if (argv.length === 2 && HELP.has(argv[1]!) && groupUsage(COMMANDS, argv[0]!) !== undefined) {
    process.stdout.write(`${groupUsage(COMMANDS, argv[0]!)}\n`);
    return 0;
  }
  let resolved: ReturnType<typeof resolve> | undefined;
  try {
    resolved = resolve(argv);
    const args = parseCommand(resolved.rest, resolved.command.options ?? {}, resolved.command.positionals ?? []);
    if (args.help) {
      process.stdout.write(`${commandUsage(resolved.name, resolved.command)}\n`);
      return 0;
    }
    return (await resolved.command.run(args)) ?? 0;
  } catch (error) {
    return report(error, resolved, argv[0]!);
  }
}

function report(error: unknown, resolved: { name: string; command: Command } | undefined, first: string): number {
  const fail = (message: string) => process.stderr.write(`appgrant: ${message}\n`);
  if (error instanceof UsageError) {
    fail(error.message);
    const help = resolved ? commandUsage(resolved.name, resolved.command) : (groupUsage(COMMANDS, first) ?? usage(COMMANDS));
    process.stderr.write(`\n${help}\n`);
    return 2;
  }
  if (error instanceof ConfigError) {
    fail(`configuration error: ${error.message}`);
    return 2;
  }
  // MigrationError is matched by name: importing its module would load the database drivers up front.
  if (error instanceof DomainError || (error instanceof Error && error.name === "MigrationError")) {
    fail(error.message);
    return 1;
  }
  // Only the message: a stack or a Prisma invocation dump says nothing useful to an operator.
  fail(error instanceof Error ? error.message : String(error));
  return 1;
}

export async function run(argv: string[]): Promise<void> {
  // exitCode rather than exit(): piped stdout is flushed before the process ends.
  process.exitCode = await main(argv);
}

/** True when this file is the process entry (`node --import tsx src/cli/main.ts`); bin/appgrant.js calls run() itself. */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntry()) await run(process.argv.slice(2));
