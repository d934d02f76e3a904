// The server keys when none are configured: for the embedded SQLite set-up a random
// key is created once next to the database (mode 0600), so the two-command quick start
// needs no configuration and restarts keep the key. That file sits in the data
// directory, so a copy of the directory can open every webhook secret: production
// sets APPGRANT_SECRET_KEY_FILE (or APPGRANT_SECRET_KEY) and keeps the key elsewhere.
// The file may hold several keys, newest first, like APPGRANT_SECRET_KEY_FILE.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseLocation } from "./settings.js";
import { keyListProblem, parseKeyList } from "../crypto/server-keys.js";

/** The settings the keys come from (src/main/config.ts). */
export interface KeySettings {
  /** APPGRANT_SECRET_KEY or the file's content, newest first; undefined when neither is set. */
  secretKeys: string[] | undefined;
  secretKeyFile: string | undefined;
  database: DatabaseLocation;
}

/** The key file of the embedded set-up: beside the SQLite database. */
export function keyFileFor(sqlitePath: string): string {
  return join(dirname(sqlitePath), "appgrant.key");
}

export function loadOrCreateKeyFile(path: string): string[] {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    try {
      writeFileSync(path, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  const keys = parseKeyList(readFileSync(path, "utf8"));
  const problem = keyListProblem(keys);
  if (problem) throw new Error(`${path}: the key file ${problem}; fix or delete it, or set APPGRANT_SECRET_KEY_FILE`);
  return keys;
}

/** Where the keys come from, for the start-up log line (never the keys). */
export function keySource(config: KeySettings): string {
  if (config.secretKeyFile !== undefined) return `APPGRANT_SECRET_KEY_FILE (${config.secretKeyFile})`;
  if (config.secretKeys !== undefined || config.database.kind !== "sqlite") return "APPGRANT_SECRET_KEY";
  return `${keyFileFor(config.database.path)}, beside the database`;
}

/** A warning when the key file can be read by users other than its owner; undefined otherwise. */
export function keyFileWarning(config: KeySettings): string | undefined {
  const file =
    config.secretKeyFile ?? (config.secretKeys === undefined && config.database.kind === "sqlite" ? keyFileFor(config.database.path) : undefined);
  if (file === undefined) return undefined;
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  return `the server key file ${file} is readable by other users (mode ${octal}): anyone who can read it can open every webhook secret; chmod 600 (or 400) it`;
}
