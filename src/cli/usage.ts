// Help text, generated from the command table so it cannot drift from what runs.
import type { Command, CommandTable } from "./command.js";

const GROUP_TITLES: Record<string, string> = {
  apps: "Applications",
  installs: "Installations",
  deliveries: "Webhook deliveries",
  device: "Device authorizations (RFC 8628)",
  keys: "Server keys",
  events: "Events (audit log)",
};

const FOOTER = `Every command accepts --json (machine-readable output, the admin API's shape) and --help.
Configuration comes from the server's environment variables; DATABASE_URL defaults to
file:./data/appgrant.db. Pending migrations are applied before any command runs.
Exit codes: 0 done, 1 refused (not found, conflict, invalid value), 2 usage or configuration error.`;

function line(name: string, command: Command): string {
  return `appgrant ${name}${command.usage ? ` ${command.usage}` : ""}`;
}

function section(title: string, entries: [string, Command][]): string {
  return `${title}:\n${entries.map(([name, command]) => `  ${line(name, command)}\n      ${command.summary}`).join("\n")}`;
}

export function usage(commands: CommandTable): string {
  const entries = Object.entries(commands);
  const groups = Object.keys(GROUP_TITLES).map((group) =>
    section(
      GROUP_TITLES[group]!,
      entries.filter(([name]) => name.startsWith(`${group} `)),
    ),
  );
  const others = section(
    "Database and server",
    entries.filter(([name]) => !name.includes(" ")),
  );
  return `Usage: appgrant <command> [options]\n\n${[...groups, others].join("\n\n")}\n\n${FOOTER}`;
}

/** Usage of every subcommand of `group` ("apps", "installs"); undefined when there is no such group. */
export function groupUsage(commands: CommandTable, group: string): string | undefined {
  const entries = Object.entries(commands).filter(([name]) => name.startsWith(`${group} `));
  if (entries.length === 0) return undefined;
  return `Usage:\n\n${section(GROUP_TITLES[group] ?? group, entries)}`;
}

export function commandUsage(name: string, command: Command): string {
  const summary = command.summary.charAt(0).toUpperCase() + command.summary.slice(1);
  return `Usage: ${line(name, command)}\n\n${summary}.\nEvery command also accepts --json and --help.`;
}
