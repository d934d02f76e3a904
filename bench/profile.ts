// A CPU profile of the server under one bench load: seeds a fresh SQLite database as the
// bench does, starts the built server (dist/) pinned to core 1 with --cpu-prof, loads it
// from core 0 with bench/load.ts, stops it and prints where the main thread's time went
// (self time by function, the top 30). The .cpuprofile files stay in the output directory
// (open them in Chrome's DevTools for the call tree).
//   npx tsx bench/profile.ts [refresh|code|introspect|cc-secret] [seconds=8] [connections=50] [out=./profiles]
// With PROFILE_DATABASE_URL=postgresql://…, on PostgreSQL instead (a fresh schema, dropped after).
// Run `npm run build` first; run it on an idle machine, or read the figures as shares only.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { migrateDatabase } from "../src/storage/migrate.js";
import { parseDatabaseUrl } from "../src/storage/settings.js";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { seedPostgres, seedSqlite } from "./seed.js";

const ADMIN_TOKEN_FOR_PROFILE = "profile-admin-token-0123456789abcdef0123456789";

const [kind = "refresh", seconds = "8", connections = "50", out = "profiles"] = process.argv.slice(2);
const PORT = 3990;
const outDir = resolve(out);
mkdirSync(outDir, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "appgrant-profile-"));
const postgres = process.env.PROFILE_DATABASE_URL;
const schema = `profile_${randomBytes(6).toString("hex")}`;
try {
  let url = `file:${join(dir, "profile.db")}`;
  if (postgres !== undefined) {
    const postgresUrl = new URL(postgres);
    postgresUrl.searchParams.set("schema", schema);
    url = postgresUrl.toString();
  }
  await migrateDatabase(parseDatabaseUrl(url));
  const seed = postgres === undefined ? await seedSqlite(url.slice(5), 60_000, 60_000) : await seedPostgres(url, 60_000, 60_000);
  const env = {
    ...process.env,
    PORT: String(PORT),
    DATABASE_URL: url,
    LOG_LEVEL: "warn",
    APPGRANT_SECRET_KEY: "bench-key-0123456789abcdef0123456789abcdef",
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN_FOR_PROFILE,
    APPGRANT_ISSUER: `http://127.0.0.1:${PORT}`,
    APPGRANT_RATE_LIMIT_PER_IP: "0",
    APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
  };
  const before = new Set(readdirSync(outDir));
  const server = spawn("taskset", ["-c", "1", process.execPath, "--cpu-prof", `--cpu-prof-dir=${outDir}`, "dist/main/server.js"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; ; i++) {
    try {
      await fetch(`http://127.0.0.1:${PORT}/healthz`);
      break;
    } catch {
      if (i > 300) throw new Error("the server did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const values = { refresh: seed.refreshTokens, code: seed.codes, introspect: seed.accessTokens, "cc-secret": seed.installationIds }[kind];
  if (values === undefined) throw new Error(`unknown load: ${kind}`);
  const authorization =
    kind === "introspect" ? `Bearer ${ADMIN_TOKEN_FOR_PROFILE}` : `Basic ${Buffer.from(`${seed.clientId}:${seed.clientSecret}`).toString("base64")}`;
  const file = join(dir, "values.json");
  writeFileSync(file, JSON.stringify(values));
  const result = execFileSync(
    "taskset",
    ["-c", "0", process.execPath, "--import", "tsx", "bench/load.ts", `http://127.0.0.1:${PORT}`, file, kind, seconds, connections, authorization],
    { encoding: "utf8" },
  );
  console.log(result.trim().split("\n").pop());
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));

  // The main thread's profile: the largest new file (the checkpoint worker writes its own).
  const written = readdirSync(outDir).filter((name) => !before.has(name) && name.endsWith(".cpuprofile"));
  const main = written.map((name) => join(outDir, name)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (main === undefined) throw new Error("no profile written");
  const profile = JSON.parse(readFileSync(main, "utf8")) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\//, "")}:${frame.lineNumber + 1}`;
    const delta = profile.timeDeltas[i] ?? 0;
    self.set(name, (self.get(name) ?? 0) + delta);
    total += delta;
  });
  console.log(`${main}\nself time, % of the profile (idle included):`);
  for (const [name, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${((100 * time) / total).toFixed(1).padStart(5)}  ${name}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (postgres !== undefined) {
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}
