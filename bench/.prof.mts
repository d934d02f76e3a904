// scratch profiling (not committed)
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedSqlite } from "./seed.js";
import { migrateDatabase } from "../src/storage/migrate.js";
import { parseDatabaseUrl } from "../src/storage/settings.js";

const kind = process.argv[2] ?? "refresh";
const duration = process.argv[3] ?? "8";
const connections = process.argv[4] ?? "50";
const prof = process.env.PROF !== "0";
const dir = mkdtempSync(join(tmpdir(), "prof-"));
const url = `file:${join(dir, "p.db")}`;
await migrateDatabase(parseDatabaseUrl(url));
const seed = await seedSqlite(url.slice(5), 60000, 60000);
const env = {
  ...process.env,
  PORT: "3990",
  DATABASE_URL: url,
  LOG_LEVEL: "warn",
  APPGRANT_SECRET_KEY: "bench-key-0123456789abcdef0123456789abcdef",
  APPGRANT_ADMIN_TOKEN: "bench-admin-token-0123456789abcdef0123456789",
  APPGRANT_ISSUER: "http://127.0.0.1:3990",
  APPGRANT_RATE_LIMIT_PER_IP: "0",
  APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
};
const args = ["-c", "1", process.execPath, ...(prof ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof/out"] : []), "dist/main/server.js"];
const child = spawn("taskset", args, { env, stdio: ["ignore", "ignore", "inherit"] });
for (;;) {
  try {
    await fetch("http://127.0.0.1:3990/healthz");
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
const values =
  kind === "refresh" ? seed.refreshTokens : kind === "code" ? seed.codes : kind === "introspect" ? seed.accessTokens : seed.installationIds;
const auth =
  kind === "introspect"
    ? "Bearer bench-admin-token-0123456789abcdef0123456789"
    : `Basic ${Buffer.from(`${seed.clientId}:${seed.clientSecret}`).toString("base64")}`;
const file = join(dir, "v.json");
writeFileSync(file, JSON.stringify(values));
const out = execFileSync(
  "taskset",
  ["-c", "0", process.execPath, "--import", "tsx", "bench/load.ts", "http://127.0.0.1:3990", file, kind, duration, connections, auth],
  { encoding: "utf8" },
);
console.log(out.trim().split("\n").pop());
child.kill("SIGTERM");
await new Promise((r) => child.once("exit", r));
rmSync(dir, { recursive: true, force: true });
