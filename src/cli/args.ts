// Argument parsing on top of node:util parseArgs: one strict parse per command, and
// the checks every command shares (required flags, lists, paging), all reported as
// usage errors so the operator gets the usage text and exit code 2.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type PageRequest } from "../domain/pagination.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export class UsageError extends Error {
  override name = "UsageError";
}

export interface Parsed {
  values: Values;
  positionals: string[];
  json: boolean;
  help: boolean;
}

const COMMON: OptionSpec = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export function parseCommand(argv: string[], options: OptionSpec, positionals: readonly string[]): Parsed {
  let result: ReturnType<typeof parseArgs>;
  try {
    result = parseArgs({ args: argv, options: { ...options, ...COMMON }, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs appends a long hint about "--" to unknown options; the first sentence is the point.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(/\.\s/)[0]!.replace(/\.$/, ""));
  }
  const values = result.values as Values;
  const help = values.help === true;
  if (!help) {
    const missing = positionals.slice(result.positionals.length);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `<${name}>`).join(" ")}`);
    // A last positional named "name..." takes one or more values.
    const variadic = positionals.at(-1)?.endsWith("...") === true;
    const extra = result.positionals.slice(positionals.length);
    if (extra.length > 0 && !variadic) throw new UsageError(`unexpected argument "${extra[0]}"`);
  }
  return { values, positionals: result.positionals, json: values.json === true, help };
}

export function optionalString(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredString(values: Values, name: string): string {
  const value = optionalString(values, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/** Every value of a repeatable option, in order. */
export function repeated(values: Values, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === "string");
}

/** A repeatable option whose values may each hold several items separated by commas or spaces. */
export function splitList(values: Values, name: string): string[] {
  return repeated(values, name)
    .flatMap((value) => value.split(/[\s,]+/))
    .filter((item) => item !== "");
}

/** --scope S (repeatable, taken as is) plus --scopes "a b,c". */
export function scopeList(values: Values): string[] {
  return [...repeated(values, "scope"), ...splitList(values, "scopes")];
}

export const scopeOptions: OptionSpec = {
  scope: { type: "string", multiple: true },
  scopes: { type: "string", multiple: true },
};

export const pageOptions: OptionSpec = {
  limit: { type: "string" },
  cursor: { type: "string" },
};

export function pageRequest(values: Values): PageRequest {
  const raw = optionalString(values, "limit");
  let limit = DEFAULT_PAGE_SIZE;
  if (raw !== undefined) {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE_SIZE) {
      throw new UsageError(`--limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${raw}"`);
    }
    limit = Number(raw);
  }
  return { limit, cursor: optionalString(values, "cursor") };
}

export function timestamp(values: Values, name: string): Date | undefined {
  const raw = optionalString(values, name);
  if (raw === undefined) return undefined;
  const date = new Date(raw);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--${name} must be an ISO 8601 date-time, got "${raw}"`);
  return date;
}

/** `--batch-size N` of the batched maintenance commands (purge, keys reencrypt): 1 to 10000, or their default. */
export const batchOptions: OptionSpec = { "batch-size": { type: "string" } };

export function batchSize(values: Values): number | undefined {
  const raw = optionalString(values, "batch-size");
  const batch = raw === undefined ? undefined : Number(raw);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > 10_000)) {
    throw new UsageError("--batch-size must be a whole number from 1 to 10000");
  }
  return batch;
}
