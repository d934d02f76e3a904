// The server key (APPGRANT_SECRET_KEY) when none is configured: for the embedded
// SQLite set-up a random key is created once next to the database (mode 0600), so
// the two-command quick start needs no configuration and restarts keep the key.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export function keyFileFor(sqliteUrl: string): string {
  return join(dirname(sqliteUrl.slice("file:".length)), "appgrant.key");
}

export function loadOrCreateKeyFile(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    try {
      writeFileSync(path, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  const key = readFileSync(path, "utf8").trim();
  if (key.length < 32) throw new Error(`${path}: the key file is shorter than 32 characters; delete it or set APPGRANT_SECRET_KEY`);
  return key;
}
