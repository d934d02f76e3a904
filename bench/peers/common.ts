// What the peer servers share: the one confidential client, the durable SQLite
// settings (those of appgrant's src/storage/sqlite-token-store.ts), SHA-256 for
// tokens at rest, and the seed file the runner writes (credentials it generated,
// loaded into the store before the server listens).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";

export const CLIENT_ID = "bench-client";
export const CLIENT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef";
export const SCOPE = "read write";
/** appgrant's lifetimes: access 8 hours, refresh 30 days. */
export const ACCESS_TTL = 8 * 3600;
export const REFRESH_TTL = 30 * 86400;

export interface SeedFile {
  /** Each used once by the refresh_token runs: a chain of its own (its own user and grant). */
  refreshTokens: string[];
  /** Cycled by the introspection runs. */
  accessTokens: string[];
  /** Authorization codes, each exchanged once (peers that measure authorization_code). */
  codes: string[];
}

export interface PeerEnv {
  port: number;
  store: "memory" | "sqlite";
  /** The SQLite file (store=sqlite). */
  database: string;
  seed: SeedFile;
}

export function peerEnv(): PeerEnv {
  const store = process.env.PEER_STORE;
  if (store !== "memory" && store !== "sqlite") throw new Error("PEER_STORE must be memory or sqlite");
  const seedPath = process.env.PEER_SEED;
  const seed: SeedFile = seedPath ? JSON.parse(readFileSync(seedPath, "utf8")) : { refreshTokens: [], accessTokens: [], codes: [] };
  return { port: Number(process.env.PORT), store, database: process.env.PEER_DATABASE ?? "", seed };
}

export const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

/** Constant-time equality of two strings (through their SHA-256, so lengths never leak). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** A durable SQLite connection with appgrant's settings. */
export function openSqlite(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("wal_autocheckpoint = 10000");
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  return db;
}

/** Client credentials from an HTTP Basic header (RFC 6749 2.3.1: form-urlencoded, then base64). */
export function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}
