// npm run bench: the OAuth hot paths under load, against the bare Fastify ceiling
// measured in the same run, first and again last. A server process is pinned to core 1 and the load
// generator to core 0 (taskset), so figures compare across runs and machines of the
// same size. Prints the median of RUNS runs of DURATION seconds for each target.
//
//   BENCH_DURATION (s, default 10)   BENCH_RUNS (default 3)   BENCH_CONNECTIONS (default 50)
//   BENCH_SCALING (default 10,200): refresh_token on SQLite also at these connection counts.
//   BENCH_PORT (default 3917): where the servers listen.
//   BENCH_DATABASE_URL=postgresql://… also measures PostgreSQL, with one and with two
//   server processes (a fresh schema, dropped afterwards).
//   BENCH_GROUPS (default sqlite,postgres,metrics,checkpoints): which measurements after the ceiling;
//   metrics is the cost of Prometheus metrics (APPGRANT_METRICS_PORT set vs unset, ABA);
//   tracing (not in the default) the cost of OpenTelemetry tracing, exporting to a local sink;
//   growth (not in the default: ~10 GB of disk) refresh and introspection with BENCH_GROWTH_ROWS
//   (default 10,000,000) more token rows, then a purge under load (BENCH_GROWTH_PURGE_SECONDS:
//   only that long) and whether the freed pages are reused. BENCH_GROWTH_DIR: where its files go.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrateDatabase } from "../src/storage/migrate.js";
import { fillSqlite, type Seed, seedPostgres, seedSqlite } from "./seed.js";
import Database from "better-sqlite3";
import { parseDatabaseUrl } from "../src/storage/settings.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SCALING = (process.env.BENCH_SCALING ?? "10,200")
  .split(",")
  .filter((count) => count.trim() !== "")
  .map(Number);
const WARMUP = 3;
/** The first server's port (BENCH_PORT, default 3917); a second process takes the next, the trace sink PORT + 70. */
const PORT = Number(process.env.BENCH_PORT ?? 3917);
const GROUPS = new Set((process.env.BENCH_GROUPS ?? "sqlite,postgres,metrics,checkpoints").split(",").map((group) => group.trim()));
/** Upper bound on req/s of the consuming targets, to seed enough single-use credentials. */
const MAX_RATE = Number(process.env.BENCH_MAX_RATE ?? 6000);
/**
 * Single-use credentials one measure() of a consuming target needs at `rate` req/s: it
 * gives the warm-up and each run an equal slice, so each slice must last DURATION
 * seconds. (Counting the warm-up as WARMUP seconds ran short above 0.8 × rate.)
 */
const budget = (rate = MAX_RATE) => Math.ceil(rate * DURATION * (RUNS + 1));
export const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123456789";
/** The servers' issuer: the audience of the private_key_jwt assertions. */
const ISSUER = "https://bench.appgrant.example";
const root = new URL("..", import.meta.url).pathname;
const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
})();

export type Kind = "bare" | "code" | "refresh" | "introspect" | "cc-secret" | "cc-jwt";
export interface Summary {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  failures: number;
  runs: number[];
}

const pinned = (core: number | null, args: string[]): [string, string[]] =>
  hasTaskset && core !== null ? ["taskset", ["-c", String(core), process.execPath, ...args]] : [process.execPath, args];

/** client_secret_basic for the seeded application. */
export const basicAuth = (seed: Pick<Seed, "clientId" | "clientSecret">) =>
  `Basic ${Buffer.from(`${seed.clientId}:${seed.clientSecret}`).toString("base64")}`;

export async function startServer(
  port: number,
  core: number | null,
  script: string[],
  env: Record<string, string>,
  readyWithinMs = 30_000,
): Promise<ChildProcess> {
  const busy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => true,
    () => false,
  );
  if (busy) throw new Error(`port ${port} is already in use (a server left over from an earlier run?)`);
  const [command, args] = pinned(core, script);
  const child = spawn(command, args, { cwd: root, env: { ...process.env, PORT: String(port), ...env }, stdio: ["ignore", "ignore", "inherit"] });
  const deadline = Date.now() + readyWithinMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("server did not become ready");
}

export async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null) return undefined;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      return exited;
    }),
  );
}

function load(
  dir: string,
  ports: number[],
  kind: Kind,
  values: string[],
  duration: number,
  authorization: string,
  core: number | null,
  connections = CONNECTIONS,
) {
  const file = join(dir, `values-${randomBytes(4).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(values));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`).join(",");
  const [command, args] = pinned(core, [
    "--import",
    "tsx",
    join(root, "bench/load.ts"),
    urls,
    file,
    kind,
    String(duration),
    String(connections),
    authorization,
  ]);
  const out = execFileSync(command, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 20 });
  rmSync(file);
  return JSON.parse(out.trim().split("\n").pop()!) as {
    rps: number;
    p50: number;
    p99: number;
    max: number;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Warm-up, then RUNS measured runs, each with fresh credentials (unless the kind cycles). */
export function measure(
  name: string,
  dir: string,
  ports: number[],
  kind: Kind,
  values: string[],
  authorization: string,
  connections = CONNECTIONS,
): Summary {
  const cycles = kind === "bare" || kind === "introspect" || kind === "cc-secret";
  const perRun = cycles ? values.length : Math.floor(values.length / (RUNS + 1));
  const slice = (i: number) => (cycles ? values : values.slice(i * perRun, (i + 1) * perRun));
  const loadCore = ports.length > 1 ? null : 0; // two servers take both cores: the generator floats
  load(dir, ports, kind, slice(0), WARMUP, authorization, loadCore, connections);
  const results = Array.from({ length: RUNS }, (_, i) => load(dir, ports, kind, slice(i + 1), DURATION, authorization, loadCore, connections));
  const rpsList = results.map((r) => r.rps);
  const mid = results[rpsList.indexOf(median(rpsList))]!;
  const failures = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  process.stderr.write(`bench: ${name}: ${rpsList.map(Math.round).join(" / ")} req/s\n`);
  return { name, rps: median(rpsList), p50: mid.p50, p99: mid.p99, failures, runs: rpsList };
}

/**
 * Starts appgrant on `databaseUrl` with `processes` processes and measures the hot paths;
 * with `scaling`, refresh_token also at those connection counts (each on its own share
 * of the refresh tokens).
 */
async function measureAppgrant(
  label: string,
  dir: string,
  databaseUrl: string,
  seed: Seed,
  processes: number,
  scaling: number[] = [],
): Promise<Summary[]> {
  return withServers(databaseUrl, processes, {}, async (ports) => {
    const basic = basicAuth(seed);
    const suffix = processes > 1 ? `, ${processes} processes` : "";
    const share = Math.floor(seed.refreshTokens.length / (scaling.length + 1));
    return [
      measure(`introspection (${label}${suffix})`, dir, ports, "introspect", seed.accessTokens.slice(0, 20_000), `Bearer ${ADMIN_TOKEN}`),
      measure(`authorization_code (${label}${suffix})`, dir, ports, "code", seed.codes, basic),
      measure(`refresh_token (${label}${suffix})`, dir, ports, "refresh", seed.refreshTokens.slice(0, share), basic),
      ...scaling.map((connections, i) =>
        measure(
          `refresh_token, ${connections} connections (${label}${suffix})`,
          dir,
          ports,
          "refresh",
          seed.refreshTokens.slice((i + 1) * share, (i + 2) * share),
          basic,
          connections,
        ),
      ),
      measure(`client_credentials, client secret (${label}${suffix})`, dir, ports, "cc-secret", seed.installationIds.slice(0, 20_000), basic),
      measure(`client_credentials, private_key_jwt (${label}${suffix})`, dir, ports, "cc-jwt", await assertions(seed), ""),
    ];
  });
}

/**
 * The cost of Prometheus metrics on the hot paths (issue 12: under 3%): refresh and
 * introspection on one SQLite database with metrics off, on, and off again (ABA: a
 * drift of the machine shows as a difference between the two "off" figures).
 */
async function measureMetricsCost(dir: string, databaseUrl: string, seed: Seed): Promise<Summary[]> {
  return measureCost("metrics", { APPGRANT_METRICS_PORT: "0" }, dir, databaseUrl, seed);
}

/** A stand-in OTLP collector: answers every POST with 200, counts them, reports the count when stopped. */
const SINK = `
let exports = 0;
const server = require("node:http").createServer((req, res) => {
  req.resume();
  req.on("end", () => { exports++; res.writeHead(200, { "content-type": "application/json" }).end("{}"); });
});
server.listen(Number(process.argv[1]), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => { console.error("bench: the trace sink received " + exports + " exports"); process.exit(0); });
`;

/**
 * The cost of OpenTelemetry tracing on the same paths: off, on (every span exported over
 * OTLP/HTTP to a sink in a process of its own, answering 200), off again. The load
 * generator runs synchronously here, so the sink cannot live in this process.
 */
async function measureTracingCost(dir: string, databaseUrl: string, seed: Seed): Promise<Summary[]> {
  const port = PORT + 70;
  const sink = spawn(process.execPath, ["-e", SINK, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    sink.stdout!.once("data", () => resolve());
    sink.once("exit", (code) => reject(new Error(`the trace sink exited with ${code}`)));
  });
  try {
    return await measureCost("tracing", { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, dir, databaseUrl, seed);
  } finally {
    await stop([sink]);
  }
}

/** `feature` off, on (`on`'s environment), and off again (ABA: a drift of the machine shows as a difference between the two "off" figures). */
async function measureCost(
  feature: string,
  on: Record<string, string>,
  dir: string,
  databaseUrl: string,
  seed: Seed,
  off: Record<string, string> = {},
): Promise<Summary[]> {
  const basic = basicAuth(seed);
  const third = Math.floor(seed.refreshTokens.length / 3);
  const round = (label: string, env: Record<string, string>, i: number) =>
    withServers(databaseUrl, 1, env, async (ports) => [
      measure(`refresh_token, ${feature} ${label}`, dir, ports, "refresh", seed.refreshTokens.slice(i * third, (i + 1) * third), basic),
      measure(`introspection, ${feature} ${label}`, dir, ports, "introspect", seed.accessTokens.slice(0, 20_000), `Bearer ${ADMIN_TOKEN}`),
    ]);
  return [...(await round("off", off, 0)), ...(await round("on", on, 1)), ...(await round("off again", off, 2))];
}

/**
 * Growth (issue: flat growth): refresh and introspection on a small database and on one
 * holding BENCH_GROWTH_ROWS (default 10 million) more token rows (fillSqlite), small
 * again after (ABA); then the CLI's purge of the expired half while client_credentials
 * load writes a token per request, with the slowest request of that load; then whether
 * the freed pages are reused (the file does not grow while new rows are written).
 */
async function measureGrowth(dir: string): Promise<Summary[]> {
  const rows = Number(process.env.BENCH_GROWTH_ROWS ?? 10_000_000);
  const pairs = 2 * budget();
  const small = `file:${join(dir, "growth-small.db")}`;
  const big = `file:${join(dir, "growth-big.db")}`;
  await migrateDatabase(parseDatabaseUrl(small));
  await migrateDatabase(parseDatabaseUrl(big));
  process.stderr.write(`bench: seeding the small database with ${pairs} token pairs…\n`);
  const smallSeed = await seedSqlite(small.slice(5), 0, pairs);
  process.stderr.write(`bench: seeding the large database with ${pairs} token pairs and ${rows} more token rows…\n`);
  const bigSeed = await seedSqlite(big.slice(5), 0, pairs);
  const started = performance.now();
  fillSqlite(big.slice(5), rows, bigSeed, (line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`bench: filled in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  const half = pairs / 2;
  const round = (label: string, url: string, seed: Seed, i: number) =>
    withServers(url, 1, {}, async (ports) => [
      measure(`refresh_token, ${label}`, dir, ports, "refresh", seed.refreshTokens.slice(i * half, (i + 1) * half), basicAuth(seed)),
      measure(`introspection, ${label}`, dir, ports, "introspect", seed.accessTokens.slice(0, 20_000), `Bearer ${ADMIN_TOKEN}`),
    ]);
  const summaries = [
    ...(await round("small database", small, smallSeed, 0)),
    ...(await round(`+${rows} token rows`, big, bigSeed, 0)),
    ...(await round("small database again", small, smallSeed, 1)),
  ];

  // The purge under load: the CLI in its own process (as cron would run it), the server loaded meanwhile.
  const path = big.slice(5);
  const readOnly = <T>(read: (db: Database.Database) => T): T => {
    const db = new Database(path, { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  };
  const pages = () =>
    readOnly((db) => ({ pages: db.pragma("page_count", { simple: true }) as number, free: db.pragma("freelist_count", { simple: true }) as number }));
  const expired = () =>
    readOnly((db) => {
      const now = new Date().toISOString().replace(/Z$/, "+00:00");
      return (db.prepare(`SELECT count(*) AS n FROM "Token" WHERE "refreshExpiresAt" < ?`).get(now) as { n: number }).n;
    });
  const purgeWindow = Number(process.env.BENCH_GROWTH_PURGE_SECONDS ?? 0);
  const expiredBefore = expired();
  await withServers(big, 1, {}, async (ports) => {
    const installations = bigSeed.installationIds.slice(0, 20_000);
    const quiet = load(dir, ports, "cc-secret", installations, 5, basicAuth(bigSeed), 0);
    console.log(`client_credentials before the purge: ${Math.round(quiet.rps)} req/s, p99 ${quiet.p99} ms, slowest request ${quiet.max} ms`);
    const purge = spawn(process.execPath, [join(root, "bin/appgrant.js"), "purge", "--json"], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: big, APPGRANT_SECRET_KEY: "bench-key-0123456789abcdef0123456789abcdef", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    purge.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => purge.once("exit", resolve));
    let done = false;
    void exited.then(() => (done = true));
    const purgeStarted = performance.now();
    const loads: { rps: number; p99: number; max: number; failures: number }[] = [];
    // BENCH_GROWTH_PURGE_SECONDS: measure a window of the purge, then stop it (a purge of
    // millions of rows at half the lock's time takes tens of minutes).
    const stopAt = purgeWindow > 0 ? performance.now() + purgeWindow * 1000 : Number.POSITIVE_INFINITY;
    while (!done) {
      if (performance.now() > stopAt) {
        purge.kill("SIGTERM");
        break;
      }
      await new Promise((resolve) => setImmediate(resolve)); // the load runs synchronously: let the exit be seen
      if (done) break;
      const r = load(dir, ports, "cc-secret", installations, 5, basicAuth(bigSeed), 0);
      loads.push({ rps: r.rps, p99: r.p99, max: r.max, failures: r.non2xx + r.errors + r.timeouts });
    }
    const code = await exited;
    if (performance.now() > stopAt) output = `(stopped after ${purgeWindow} s) ${output}`;
    const seconds = (performance.now() - purgeStarted) / 1000;
    const after = pages();
    console.log(
      `purge under load: exit ${code}, ${seconds.toFixed(0)} s, ${expiredBefore - expired()} of ${expiredBefore} expired token rows removed ${output.trim().replace(/\s+/g, " ")}; ` +
        `client_credentials meanwhile: ${loads.map((l) => Math.round(l.rps)).join(" / ")} req/s, ` +
        `p99 ${Math.max(...loads.map((l) => l.p99))} ms, slowest request ${Math.max(...loads.map((l) => l.max))} ms, ` +
        `non-2xx+errors ${loads.reduce((n, l) => n + l.failures, 0)}`,
    );
    // Reuse: new rows go into the freed pages; the file does not grow.
    const fileBefore = statSync(path).size;
    const r = load(dir, ports, "refresh", bigSeed.refreshTokens.slice(half, half + 60_000), 10, basicAuth(bigSeed), 0);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the checkpointer copies the WAL into the file
    const reused = pages();
    console.log(
      `after the purge: ${after.pages} pages, ${after.free} free; ${Math.round(r.rps * 10)} refreshes later: ` +
        `${reused.pages} pages, ${reused.free} free; file ${fileBefore} → ${statSync(path).size} bytes`,
    );
  });
  return summaries;
}

/** The environment of every bench server on `databaseUrl`. */
export const serverEnv = (databaseUrl: string): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
  APPGRANT_SECRET_KEY: "bench-key-0123456789abcdef0123456789abcdef",
  APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
  APPGRANT_ISSUER: ISSUER,
  // One load generator on one IP would hit the per-IP limit: measure the endpoint, not the limiter.
  APPGRANT_RATE_LIMIT_PER_IP: "0",
  APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
});

export async function withServers<T>(
  databaseUrl: string,
  processes: number,
  extraEnv: Record<string, string>,
  fn: (ports: number[]) => Promise<T>,
): Promise<T> {
  const env = { ...serverEnv(databaseUrl), ...extraEnv };
  const ports = Array.from({ length: processes }, (_, i) => PORT + i);
  const servers: ChildProcess[] = [];
  try {
    for (const [i, port] of ports.entries()) servers.push(await startServer(port, processes > 1 ? i : 1, [join(root, "dist/main/server.js")], env));
    return await fn(ports);
  } finally {
    await stop(servers);
  }
}

/**
 * Single-use private_key_jwt assertions for the cc-jwt runs ("<installation id> <JWT>"), signed
 * ahead so the generator measures the server; valid 10 minutes, the longest the server accepts.
 */
async function assertions(seed: Seed): Promise<string[]> {
  const count = budget();
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const jwt = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: seed.kid })
      .setIssuer(seed.clientId)
      .setSubject(seed.clientId)
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(seed.privateKey);
    out.push(`${seed.installationIds[i % seed.installationIds.length]} ${jwt}`);
  }
  return out;
}

export const CEILING_AFTER = "bare Fastify (ceiling, again after)";

/** The bare route (bench/bare-server.ts): the ceiling the other targets are a share of. */
export async function measureCeiling(dir: string, name: string): Promise<Summary> {
  const bare = await startServer(PORT, 1, ["--import", "tsx", join(root, "bench/bare-server.ts")], {});
  try {
    const fake = Array.from({ length: 10_000 }, (_, i) => `agc_${String(i).padStart(49, "0")}`);
    return measure(name, dir, [PORT], "bare", fake, "Basic eDp5");
  } finally {
    await stop([bare]);
  }
}

/**
 * The table. "of ceiling" is against the mean of the bare route measured first and, when
 * it was (npm run bench), again last: a machine whose speed drifted during the run shows
 * as a difference between those two rows, and the ratios are not trusted past it.
 */
export function print(summaries: Summary[]): void {
  const after = summaries.find((s) => s.name === CEILING_AFTER);
  const ceiling = after ? (summaries[0]!.rps + after.rps) / 2 : summaries[0]!.rps;
  const rows = summaries.map((s) => [
    s.name,
    String(Math.round(s.rps)),
    `${s.p50} ms`,
    `${s.p99} ms`,
    s.p50 > 0 ? `${(s.p99 / s.p50).toFixed(1)}×` : "–",
    String(s.failures),
    `${((100 * s.rps) / ceiling).toFixed(1)}%`,
    s.runs.map((r) => Math.round(r)).join(" / "),
  ]);
  const header = ["target", "req/s (median)", "p50", "p99", "p99/p50", "non-2xx+errors", "of ceiling", "runs"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  if (after) {
    const drift = (100 * (after.rps - summaries[0]!.rps)) / summaries[0]!.rps;
    console.log(
      `ceiling: ${Math.round(ceiling)} req/s, the mean of first and last (drift ${drift >= 0 ? "+" : ""}${drift.toFixed(1)}% over the run)`,
    );
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-bench-"));
  const summaries: Summary[] = [];
  const perKind = budget();
  process.stderr.write(`bench: ${RUNS} runs x ${DURATION}s, ${CONNECTIONS} connections, taskset ${hasTaskset ? "on" : "unavailable"}\n`);
  try {
    summaries.push(await measureCeiling(dir, "bare Fastify (ceiling)"));

    if (GROUPS.has("sqlite")) {
      const sqlite = `file:${join(dir, "bench.db")}`;
      await migrateDatabase(parseDatabaseUrl(sqlite));
      const pairs = perKind * (SCALING.length + 1);
      process.stderr.write(`bench: seeding SQLite with ${perKind} codes and ${pairs} token pairs…\n`);
      summaries.push(...(await measureAppgrant("SQLite", dir, sqlite, await seedSqlite(sqlite.slice(5), perKind, pairs), 1, SCALING)));
    }

    if (GROUPS.has("metrics")) {
      const sqlite = `file:${join(dir, "metrics.db")}`;
      await migrateDatabase(parseDatabaseUrl(sqlite));
      // Each of the three refresh rounds consumes its own chains, as the main run does.
      const pairs = 3 * budget();
      process.stderr.write(`bench: seeding SQLite with ${pairs} token pairs for the cost of metrics…\n`);
      summaries.push(...(await measureMetricsCost(dir, sqlite, await seedSqlite(sqlite.slice(5), 0, pairs))));
    }

    if (GROUPS.has("tracing")) {
      const sqlite = `file:${join(dir, "tracing.db")}`;
      await migrateDatabase(parseDatabaseUrl(sqlite));
      const pairs = 3 * budget();
      process.stderr.write(`bench: seeding SQLite with ${pairs} token pairs for the cost of tracing…\n`);
      summaries.push(...(await measureTracingCost(dir, sqlite, await seedSqlite(sqlite.slice(5), 0, pairs))));
    }

    if (GROUPS.has("checkpoints")) {
      const sqlite = `file:${join(dir, "checkpoints.db")}`;
      await migrateDatabase(parseDatabaseUrl(sqlite));
      const pairs = 3 * budget();
      process.stderr.write(`bench: seeding SQLite with ${pairs} token pairs for the checkpoints' comparison…\n`);
      const seed = await seedSqlite(sqlite.slice(5), 0, pairs);
      const inline = { APPGRANT_SQLITE_BACKGROUND_CHECKPOINTS: "false" };
      summaries.push(...(await measureCost("background checkpoints", {}, dir, sqlite, seed, inline)));
    }

    if (GROUPS.has("growth")) summaries.push(...(await measureGrowth(process.env.BENCH_GROWTH_DIR ?? dir)));

    const postgres = process.env.BENCH_DATABASE_URL;
    if (postgres && GROUPS.has("postgres")) {
      for (const processes of [1, 2]) {
        const schema = `bench_${randomBytes(6).toString("hex")}`;
        const url = new URL(postgres);
        url.searchParams.set("schema", schema);
        await migrateDatabase(parseDatabaseUrl(url.toString()));
        process.stderr.write(`bench: seeding PostgreSQL (${schema})…\n`);
        const seed = await seedPostgres(url.toString(), perKind, perKind);
        try {
          summaries.push(...(await measureAppgrant("PostgreSQL", dir, url.toString(), seed, processes)));
        } finally {
          const client = new pg.Client({ connectionString: postgres });
          await client.connect();
          await client.query(`DROP SCHEMA "${schema}" CASCADE`);
          await client.end();
        }
      }
    }
    summaries.push(await measureCeiling(dir, CEILING_AFTER));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  print(summaries);
}

// Run when started (npm run bench), not when imported (bench/peers/run.ts reuses the functions above).
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
