// Environment → typed, validated configuration. Every error names the variable
// so an operator knows what to fix before anything starts.
import { resolve } from "node:path";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  issuer: string;
  /** The `aud` introspection reports: the platform's API (APPGRANT_AUDIENCE, default the issuer). */
  audience: string;
  /**
   * The platform's consent page: /oauth/authorize redirects the browser there with
   * request_id. Undefined: the authorization endpoint answers 503 until it is set.
   */
  consentUrl: string | undefined;
  /** The platform's scopes for discovery (APPGRANT_SCOPES); undefined: the union of the applications' scopes. */
  scopes: string[] | undefined;
  /** Undefined: the admin API answers 503 until APPGRANT_ADMIN_TOKEN is set. */
  adminToken: string | undefined;
  /** Lifetimes in seconds. */
  codeLifetime: number;
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  logLevel: LogLevel;
  /** Trust X-Forwarded-* from a TLS-terminating proxy in front. */
  trustProxy: boolean;
  /**
   * Server key (APPGRANT_SECRET_KEY) from which refresh-token successors are derived
   * (see src/oauth/successor.ts). Undefined: on SQLite a key file is created next to
   * the database at start-up; several processes must share one key, so set it there.
   */
  secretKey: string | undefined;
  /** Seconds during which a rotated refresh token's retry returns the same successor; 0 disables. */
  refreshGracePeriod: number;
  /** Rate limits of the OAuth endpoints, per window; 0 disables one. */
  rateLimit: { windowSeconds: number; perIp: number; perClient: number; authFailures: number };
  /** Redis shared by every process for the rate limits; undefined: in memory. */
  redisUrl: string | undefined;
  /** Seconds between purges of expired codes, requests and tokens in the server; 0: never (use `appgrant purge`). */
  purgeInterval: number;
  /** Prefix of every Redis key (APPGRANT_REDIS_PREFIX), for a Redis shared with other services. */
  redisPrefix: string;
  /** Deadlines and pool size of the database (see DatabaseSettings). */
  db: DatabaseSettings;
}

/** How long the process waits on its database; past a deadline the request gets 503 + Retry-After. */
export interface DatabaseSettings {
  /** PostgreSQL: connections per process (APPGRANT_PG_POOL_SIZE), shared by Prisma and the token endpoint. */
  poolSize: number;
  /** PostgreSQL: ms to open a connection, and to wait for a free one in the pool (APPGRANT_DB_CONNECT_TIMEOUT). */
  connectTimeoutMs: number;
  /**
   * ms one statement may take, lock waits included (APPGRANT_DB_QUERY_TIMEOUT): PostgreSQL's
   * statement_timeout and the client's own read deadline; on SQLite, how long a write may wait
   * for the write lock another process holds, counted from when it was queued.
   */
  queryTimeoutMs: number;
  /** ms within which /readyz answers (APPGRANT_READY_TIMEOUT). */
  readyTimeoutMs: number;
}

export const DEFAULT_DATABASE_SETTINGS: DatabaseSettings = { poolSize: 10, connectTimeoutMs: 2000, queryTimeoutMs: 3000, readyTimeoutMs: 1000 };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export const DEFAULT_DATABASE_FILE = "data/appgrant.db";

type Env = Record<string, string | undefined>;

/** Empty strings count as unset: `FOO= npm start` should mean "default", not "invalid". */
function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function databaseUrl(env: Env, cwd: string): string {
  const raw = read(env, "DATABASE_URL");
  if (raw === undefined) return `file:${resolve(cwd, DEFAULT_DATABASE_FILE)}`;
  if (raw.startsWith("file:")) {
    const path = raw.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new ConfigError("DATABASE_URL", "a file: URL needs a path, e.g. file:./data/appgrant.db");
    return `file:${resolve(cwd, path)}`;
  }
  if (/^postgres(ql)?:\/\//.test(raw)) return raw;
  throw new ConfigError("DATABASE_URL", "must start with file: (SQLite) or postgresql:// (PostgreSQL)");
}

function issuer(env: Env, port: number): string {
  const raw = read(env, "APPGRANT_ISSUER");
  if (raw === undefined) return `http://localhost:${port}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("APPGRANT_ISSUER", `must be an absolute URL, got "${raw}"`);
  }
  // RFC 8414 §2: the issuer is an https URL with no query or fragment (http allowed for local use).
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError("APPGRANT_ISSUER", "must be an http(s) URL");
  // URL leaves search/hash empty for a bare "?" or "#", which would still end up in the issuer.
  if (url.search || url.hash || /[?#]/.test(raw)) throw new ConfigError("APPGRANT_ISSUER", "must not have a query or fragment");
  // The issuer is published (discovery, iss): credentials in it would be handed to every client.
  if (url.username || url.password) throw new ConfigError("APPGRANT_ISSUER", "must not contain credentials");
  return raw.replace(/\/+$/, "");
}

function redisUrl(env: Env): string | undefined {
  const raw = read(env, "REDIS_URL");
  if (raw !== undefined && !/^rediss?:\/\//.test(raw)) throw new ConfigError("REDIS_URL", `must start with redis:// or rediss://, got "${raw}"`);
  return raw;
}

function consentUrl(env: Env): string | undefined {
  const raw = read(env, "APPGRANT_CONSENT_URL");
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
  } catch {
    throw new ConfigError("APPGRANT_CONSENT_URL", `must be an absolute http(s) URL, got "${raw}"`);
  }
  return raw;
}

function databaseSettings(env: Env): DatabaseSettings {
  const defaults = DEFAULT_DATABASE_SETTINGS;
  return {
    poolSize: integer(env, "APPGRANT_PG_POOL_SIZE", defaults.poolSize, 1, 1000),
    connectTimeoutMs: integer(env, "APPGRANT_DB_CONNECT_TIMEOUT", defaults.connectTimeoutMs, 50, 600_000),
    queryTimeoutMs: integer(env, "APPGRANT_DB_QUERY_TIMEOUT", defaults.queryTimeoutMs, 50, 600_000),
    readyTimeoutMs: integer(env, "APPGRANT_READY_TIMEOUT", defaults.readyTimeoutMs, 50, 60_000),
  };
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const port = integer(env, "PORT", 3000, 0, 65535);
  const adminToken = read(env, "APPGRANT_ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 32) {
    throw new ConfigError("APPGRANT_ADMIN_TOKEN", "must be at least 32 characters (try: openssl rand -hex 32)");
  }
  const secretKey = read(env, "APPGRANT_SECRET_KEY");
  if (secretKey !== undefined && secretKey.length < 32) {
    throw new ConfigError("APPGRANT_SECRET_KEY", "must be at least 32 characters (try: openssl rand -hex 32)");
  }
  const logLevel = (read(env, "LOG_LEVEL") ?? "info").toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const trustProxy = (read(env, "APPGRANT_TRUST_PROXY") ?? "false").toLowerCase();
  if (trustProxy !== "true" && trustProxy !== "false") {
    throw new ConfigError("APPGRANT_TRUST_PROXY", `must be true or false, got "${trustProxy}"`);
  }
  const database = databaseUrl(env, cwd);
  if (secretKey === undefined && !database.startsWith("file:")) {
    // Several processes share a PostgreSQL database; they must derive the same secrets.
    throw new ConfigError("APPGRANT_SECRET_KEY", "is required with PostgreSQL: every process must share one key (try: openssl rand -hex 32)");
  }
  const day = 86_400;
  const issuerUrl = issuer(env, port);
  return {
    port,
    host: read(env, "HOST") ?? "127.0.0.1",
    databaseUrl: database,
    issuer: issuerUrl,
    audience: read(env, "APPGRANT_AUDIENCE") ?? issuerUrl,
    consentUrl: consentUrl(env),
    scopes: read(env, "APPGRANT_SCOPES")?.split(/\s+/),
    adminToken,
    codeLifetime: integer(env, "APPGRANT_CODE_LIFETIME", 600, 1, 3600),
    accessTokenLifetime: integer(env, "APPGRANT_ACCESS_TOKEN_LIFETIME", 8 * 3600, 60, 30 * day),
    refreshTokenLifetime: integer(env, "APPGRANT_REFRESH_TOKEN_LIFETIME", 180 * day, 60, 3650 * day),
    logLevel: logLevel as LogLevel,
    trustProxy: trustProxy === "true",
    secretKey,
    refreshGracePeriod: integer(env, "APPGRANT_REFRESH_GRACE_PERIOD", 60, 0, 3600),
    rateLimit: {
      windowSeconds: integer(env, "APPGRANT_RATE_LIMIT_WINDOW", 60, 1, 86_400),
      perIp: integer(env, "APPGRANT_RATE_LIMIT_PER_IP", 1200, 0, 10_000_000),
      perClient: integer(env, "APPGRANT_RATE_LIMIT_PER_CLIENT", 600, 0, 10_000_000),
      authFailures: integer(env, "APPGRANT_RATE_LIMIT_AUTH_FAILURES", 20, 0, 10_000_000),
    },
    redisUrl: redisUrl(env),
    redisPrefix: read(env, "APPGRANT_REDIS_PREFIX") ?? "appgrant:",
    purgeInterval: integer(env, "APPGRANT_PURGE_INTERVAL", 0, 0, 7 * day),
    db: databaseSettings(env),
  };
}
