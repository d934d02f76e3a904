// npm run bench: /oauth/token under load, for both grant types, against the bare
// Fastify ceiling measured in the same run. The server is pinned to core 1 and the
// load generator to core 0 (taskset), so figures compare across runs and machines
// of the same size. Prints the median of RUNS runs of DURATION seconds each.
//
//   BENCH_DURATION (s, default 10)  BENCH_RUNS (default 3)  BENCH_CONNECTIONS (default 10)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase } from "../src/db/migrate.js";
import { seedSqlite } from "./seed.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const WARMUP = 3;
/** Generous upper bound on req/s, to seed enough single-use credentials. */
const MAX_RATE = Number(process.env.BENCH_MAX_RATE ?? 9000);
const PORT = 3917;
const root = new URL("..", import.meta.url).pathname;
const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
})();

interface RunResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function pinned(core: number, command: string, args: string[]): [string, string[]] {
  return hasTaskset ? ["taskset", ["-c", String(core), command, ...args]] : [command, args];
}

async function waitHealthy(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${PORT}/healthz`);
      if (res.ok || res.status === 404) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become ready");
}

function startServer(script: string[], env: Record<string, string>): ChildProcess {
  const [command, args] = pinned(1, process.execPath, script);
  const child = spawn(command, args, { cwd: root, env: { ...process.env, PORT: String(PORT), ...env }, stdio: ["ignore", "ignore", "inherit"] });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function load(dir: string, grant: string, values: string[], duration: number, authorization: string): RunResult {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values));
  const [command, args] = pinned(0, process.execPath, [
    "--import",
    "tsx",
    join(root, "bench/load.ts"),
    `http://127.0.0.1:${PORT}`,
    file,
    grant,
    String(duration),
    String(CONNECTIONS),
    authorization,
  ]);
  const out = execFileSync(command, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split("\n").pop()!) as RunResult;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Summary {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  runs: number[];
}

async function measure(name: string, dir: string, grant: string, values: string[], authorization: string): Promise<Summary> {
  const perRun = Math.floor(values.length / (RUNS + 1));
  const results: RunResult[] = [];
  load(dir, grant, values.slice(0, perRun), WARMUP, authorization);
  for (let i = 1; i <= RUNS; i++) {
    results.push(load(dir, grant, values.slice(i * perRun, (i + 1) * perRun), DURATION, authorization));
  }
  const rpsList = results.map((r) => r.rps);
  const mid = results[rpsList.indexOf(median(rpsList))]!;
  const failures = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  return { name, rps: median(rpsList), p50: mid.p50, p99: mid.p99, non2xx: failures, runs: rpsList };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-bench-"));
  const summaries: Summary[] = [];
  try {
    const perTarget = MAX_RATE * (DURATION * RUNS + WARMUP);
    process.stderr.write(`bench: ${RUNS} runs x ${DURATION}s, ${CONNECTIONS} connections, taskset ${hasTaskset ? "on" : "unavailable"}\n`);

    // Ceiling: bare Fastify parsing the same form body.
    const bare = startServer(["--import", "tsx", join(root, "bench/bare-server.ts")], {});
    await waitHealthy(bare);
    const fakeCodes = Array.from({ length: perTarget }, (_, i) => `agc_${String(i).padStart(49, "0")}`);
    summaries.push(await measure("bare Fastify (ceiling)", dir, "authorization_code", fakeCodes, "Basic eDp5"));
    await stop(bare);

    for (const grant of ["authorization_code", "refresh_token"]) {
      const dbPath = join(dir, `${grant}.db`);
      const url = `file:${dbPath}`;
      await migrateDatabase(url);
      process.stderr.write(`bench: seeding ${perTarget} ${grant === "refresh_token" ? "refresh tokens" : "codes"}…\n`);
      const seed = await seedSqlite(dbPath, grant === "authorization_code" ? perTarget : 0, grant === "refresh_token" ? perTarget : 0);
      const server = startServer([join(root, "dist/server.js")], {
        DATABASE_URL: url,
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
        APPGRANT_SECRET_KEY: "bench-key-0123456789abcdef0123456789abcdef",
        // One load generator on one IP would hit the per-IP limit: measure the endpoint, not the limiter.
        APPGRANT_RATE_LIMIT_PER_IP: "0",
        APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
      });
      await waitHealthy(server);
      const basic = `Basic ${Buffer.from(`${seed.clientId}:${seed.clientSecret}`).toString("base64")}`;
      const values = grant === "authorization_code" ? seed.codes : seed.refreshTokens;
      summaries.push(await measure(`${grant} (SQLite)`, dir, grant, values, basic));
      await stop(server);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const ceiling = summaries[0]!.rps;
  const rows = summaries.map((s) => [
    s.name,
    String(Math.round(s.rps)),
    `${s.p50} ms`,
    `${s.p99} ms`,
    String(s.non2xx),
    `${((100 * s.rps) / ceiling).toFixed(1)}%`,
    s.runs.map((r) => Math.round(r)).join(" / "),
  ]);
  const header = ["target", "req/s (median)", "p50", "p99", "non-2xx", "of ceiling", "runs"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

await main();
