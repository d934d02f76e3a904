// npm run bench:peers: appgrant against the libraries a platform would pick instead,
// @node-oauth/oauth2-server 5 and oidc-provider 9, each in memory and on a durable SQLite
// store written for the bench, in one run with the bare Fastify route as the ceiling
// (measured first and again last). Same method as npm run bench (bench/run.ts, whose
// functions this reuses): each server alone, pinned to core 1, the load generator to core
// 0, a warm-up then BENCH_RUNS runs of BENCH_DURATION seconds, the median; each refresh
// token and code used once (seeded into each store before its server listens), access
// tokens cycled for introspection.
//
//   BENCH_DURATION (s, default 10)   BENCH_RUNS (default 3)   BENCH_CONNECTIONS (default 50)
//   BENCH_MAX_RATE (default 10000): req/s that the seeded single-use credentials last in each run
//   BENCH_PEERS (default appgrant,oauth2-server,oidc-provider): which servers after the ceiling
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";
import type { Summary } from "../run.js";
import { seedSqlite } from "../seed.js";
import { CLIENT_ID, CLIENT_SECRET, type SeedFile } from "./common.js";

process.env.BENCH_CONNECTIONS ??= "50"; // read by bench/run.ts when it loads
const { ADMIN_TOKEN, CEILING_AFTER, basicAuth, measure, measureCeiling, print, startServer, stop, withServers } = await import("../run.js");

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MAX_RATE = Number(process.env.BENCH_MAX_RATE ?? 10_000);
const PEERS = new Set((process.env.BENCH_PEERS ?? "appgrant,oauth2-server,oidc-provider").split(",").map((peer) => peer.trim()));
const PORT = 3917;
const here = new URL(".", import.meta.url).pathname;
/** Seeding a peer's store runs before its server listens: give it time. */
const SEEDED_WITHIN_MS = 600_000;

/** bench/peers has its own dependencies: install them (npm ci) when missing or older than the lock. */
function ensureDependencies(): void {
  const installed = join(here, "node_modules/.package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(here, "package-lock.json")).mtimeMs) return;
  process.stderr.write("bench: installing bench/peers dependencies (npm ci)…\n");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: here, stdio: ["ignore", "inherit", "inherit"] });
}

const credential = () => randomBytes(32).toString("base64url");
const credentials = (count: number) => Array.from({ length: count }, credential);

async function measureAppgrant(dir: string, perKind: number): Promise<Summary[]> {
  const sqlite = `file:${join(dir, "appgrant.db")}`;
  await migrateDatabase(parseDatabaseUrl(sqlite));
  process.stderr.write(`bench: seeding appgrant (SQLite) with ${perKind} codes and ${perKind} token pairs…\n`);
  const seed = await seedSqlite(sqlite.slice(5), perKind, perKind);
  const basic = basicAuth(seed);
  return withServers(sqlite, 1, {}, async (ports) => [
    measure("appgrant, SQLite: authorization_code", dir, ports, "code", seed.codes, basic),
    measure("appgrant, SQLite: refresh_token", dir, ports, "refresh", seed.refreshTokens, basic),
    measure("appgrant, SQLite: introspection", dir, ports, "introspect", seed.accessTokens.slice(0, 20_000), `Bearer ${ADMIN_TOKEN}`),
  ]);
}

/** One peer server on one store: seeded, started, measured, stopped. */
async function measurePeer(dir: string, peer: "oauth2-server" | "oidc-provider", store: "memory" | "sqlite", perKind: number): Promise<Summary[]> {
  const withCodes = peer === "oauth2-server"; // oidc-provider's code exchange needs PKCE and a redirect_uri: not measured
  const seed: SeedFile = { refreshTokens: credentials(perKind), accessTokens: credentials(20_000), codes: withCodes ? credentials(perKind) : [] };
  const seedPath = join(dir, `seed-${peer}-${store}.json`);
  writeFileSync(seedPath, JSON.stringify(seed));
  process.stderr.write(`bench: seeding ${peer} (${store}) with ${perKind} refresh tokens${withCodes ? ` and ${perKind} codes` : ""}…\n`);
  const env = { PEER_STORE: store, PEER_DATABASE: join(dir, `${peer}.db`), PEER_SEED: seedPath };
  const server = await startServer(PORT, 1, ["--import", "tsx", join(here, `${peer}.ts`)], env, SEEDED_WITHIN_MS);
  const basic = basicAuth({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  const label = `${peer}, ${store === "memory" ? "in memory" : "SQLite"}`;
  try {
    return [
      ...(withCodes ? [measure(`${label}: authorization_code`, dir, [PORT], "code", seed.codes, basic)] : []),
      measure(`${label}: refresh_token`, dir, [PORT], "refresh", seed.refreshTokens, basic),
      measure(`${label}: introspection`, dir, [PORT], "introspect", seed.accessTokens, basic),
    ];
  } finally {
    await stop([server]);
    rmSync(seedPath);
  }
}

async function main(): Promise<void> {
  ensureDependencies();
  const dir = mkdtempSync(join(tmpdir(), "appgrant-bench-peers-"));
  // bench/run.ts's measure() gives the warm-up and each run an equal slice: each slice lasts MAX_RATE req/s.
  const perKind = MAX_RATE * DURATION * (RUNS + 1);
  process.stderr.write(`bench: peers, ${RUNS} runs x ${DURATION}s, ${process.env.BENCH_CONNECTIONS} connections\n`);
  const summaries: Summary[] = [];
  try {
    summaries.push(await measureCeiling(dir, "bare Fastify (ceiling)"));
    if (PEERS.has("appgrant")) summaries.push(...(await measureAppgrant(dir, perKind)));
    for (const peer of ["oauth2-server", "oidc-provider"] as const) {
      if (!PEERS.has(peer)) continue;
      for (const store of ["memory", "sqlite"] as const) summaries.push(...(await measurePeer(dir, peer, store, perKind)));
    }
    summaries.push(await measureCeiling(dir, CEILING_AFTER));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  print(summaries);
}

await main();
