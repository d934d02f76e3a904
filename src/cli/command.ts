import type { OptionSpec, Parsed } from "./args.js";

export interface Command {
  /** What follows the command name in the usage line, e.g. "<id> [--expires-at ISO]". */
  usage: string;
  summary: string;
  options?: OptionSpec;
  /** Names of the required positional arguments, in order. */
  positionals?: readonly string[];
  /** Resolves to the exit code (0 when nothing is returned). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that returns nothing exits 0
  run(args: Parsed): Promise<number | void>;
}

export type CommandTable = Record<string, Command>;
