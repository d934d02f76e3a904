// The SQLite database's directory, made ready before anything opens it. A path the
// process cannot use is the operator's configuration to fix, not a crash: one line
// naming DATABASE_URL and the path (the server and the CLI print ConfigErrors so).
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../shared/config-error.js";

const WHY: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "it exists as a file, not a directory",
  ENOENT: "it does not exist and cannot be created",
};

/** Creates the directory of the SQLite database file if needed; throws a ConfigError if the database cannot live there. */
export function prepareDataDirectory(file: string): void {
  const directory = dirname(file);
  const refuse = (path: string, why: string) =>
    new ConfigError("DATABASE_URL", `cannot use ${path} for the database: ${why} (DATABASE_URL=file:${file})`);
  try {
    mkdirSync(directory, { recursive: true });
    // SQLite writes the database, its -wal and -shm files and the key file here.
    accessSync(directory, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw refuse(directory, WHY[code] ?? code);
  }
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw refuse(file, "it is a directory, not a database file");
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch {
      throw refuse(file, "the database file is not writable");
    }
  }
}
