// What is running: the package's name and version (package.json, read once) and the
// commit it was built from when the build recorded one (APPGRANT_COMMIT, e.g. a
// Docker build argument; read by config, passed in).
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string };

export const NAME: string = pkg.name;
export const VERSION: string = pkg.version;

export interface BuildInfo {
  name: string;
  version: string;
  commit: string | null;
}

export function buildInfo(commit: string | undefined): BuildInfo {
  return { name: NAME, version: VERSION, commit: commit ?? null };
}
