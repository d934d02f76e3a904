// Environment → typed, validated configuration. Every error names the variable
// so an operator knows what to fix before anything starts.
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { ConfigError } from "../shared/config-error.js";
import { DEFAULT_DATABASE_SETTINGS, type DatabaseLocation, type DatabaseSettings, parseDatabaseUrl } from "../storage/settings.js";
import { parseCidr } from "../shared/webhook-address-policy.js";
import { keyListProblem, parseKeyList } from "../crypto/server-keys.js";
import { LEAKED_SECRET_ACTIONS, type LeakedSecretAction } from "../domain/leaked-credentials.js";
import type { TracingSettings } from "./tracing.js";

export type { DatabaseLocation, DatabaseSettings };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  port: number;
  host: string;
  /** DATABASE_URL, parsed once (default: SQLite in ./data/appgrant.db). */
  database: DatabaseLocation;
  issuer: string;
  /**
   * True when APPGRANT_ISSUER is unset and the issuer is http://localhost:<PORT>: then the
   * server and the CLI each derive it from their own PORT (see issuerWarning).
   */
  issuerFromPort: boolean;
  /** The `aud` introspection reports: the platform's API (APPGRANT_AUDIENCE, default the issuer). */
  audience: string;
  /**
   * The platform's consent page: /oauth/authorize redirects the browser there with
   * request_id. Undefined: the authorization endpoint answers 503 until it is set.
   */
  consentUrl: string | undefined;
  /**
   * The device flow (RFC 8628): the platform's verification page, where a person types the
   * user code (APPGRANT_DEVICE_VERIFICATION_URL; undefined: /oauth/device_authorization answers
   * 503 until it is set); seconds the codes live and between polls; failed user-code lookups
   * per caller address and rate-limit window on the admin API (0: unlimited).
   */
  device: { verificationUrl: string | undefined; lifetime: number; interval: number; lookupFailures: number };
  /** The platform's scopes for discovery (APPGRANT_SCOPES); undefined: the union of the applications' scopes. */
  scopes: string[] | undefined;
  /** Undefined: the admin API answers 503 until APPGRANT_ADMIN_TOKEN is set. */
  adminToken: string | undefined;
  /** Lifetimes in seconds. */
  codeLifetime: number;
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  logLevel: LogLevel;
  /**
   * Trust X-Forwarded-* from a TLS-terminating proxy in front (APPGRANT_TRUST_PROXY): true
   * trusts every hop; a list, only the proxies at those addresses or CIDRs.
   */
  trustProxy: boolean | string[];
  /**
   * Server keys, newest first (src/crypto/server-keys.ts): the first encrypts webhook
   * secrets and derives refresh-token successors (src/oauth/successor.ts), all decrypt
   * and verify. From APPGRANT_SECRET_KEY or the file APPGRANT_SECRET_KEY_FILE names.
   * Undefined: on SQLite a key file is created next to the database at start-up;
   * several processes must share the keys, so set them there.
   */
  secretKeys: string[] | undefined;
  /** APPGRANT_SECRET_KEY_FILE as an absolute path, when the keys came from it. */
  secretKeyFile: string | undefined;
  /** Seconds during which a rotated refresh token's retry returns the same successor; 0 disables. */
  refreshGracePeriod: number;
  /** Lifetime in seconds of an installation access token (APPGRANT_INSTALLATION_TOKEN_LIFETIME, default 3600). */
  installationTokenLifetime: number;
  /** The commit this build was made from (APPGRANT_COMMIT), shown by GET /version; unset: unknown. */
  commit: string | undefined;
  /**
   * The management listener serving Prometheus metrics at /metrics (src/main/metrics.ts):
   * APPGRANT_METRICS_PORT (unset: no metrics at all; 0 picks a free port) on
   * APPGRANT_METRICS_HOST (default 127.0.0.1). Never the public port.
   */
  metricsPort: number | undefined;
  metricsHost: string;
  /**
   * APPGRANT_METRICS_PER_CLIENT: label the token endpoint's answers with the authenticated
   * client_id too. Off by default: one series per application is unbounded.
   */
  metricsPerClient: boolean;
  /**
   * OpenTelemetry tracing (src/main/tracing.ts): on only when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
   * or OTEL_EXPORTER_OTLP_ENDPOINT is set (and OTEL_SDK_DISABLED is not true); undefined: off,
   * and the SDK is never loaded. service.name from OTEL_SERVICE_NAME (default appgrant).
   */
  tracing: TracingSettings | undefined;
  /**
   * Rate limits of the OAuth endpoints, per window; 0 disables one. authFailures: failed client
   * authentications per (client, IP); authFailuresPerIp: per IP, across clients (see src/http/oauth/rate-limit.ts).
   */
  rateLimit: { windowSeconds: number; perIp: number; perClient: number; authFailures: number; authFailuresPerIp: number };
  /** Redis shared by every process for the rate limits; undefined: in memory. */
  redisUrl: string | undefined;
  /** Seconds between purges of expired codes, requests and tokens in the server; 0: never (use `appgrant purge`). */
  purgeInterval: number;
  /** Days events (the audit log) are kept before the purge removes them (APPGRANT_EVENT_RETENTION_DAYS); 0: forever. */
  eventRetentionDays: number;
  /** Prefix of every Redis key (APPGRANT_REDIS_PREFIX), for a Redis shared with other services. */
  redisPrefix: string;
  /**
   * The internal webhook receivers an operator opts into (SSRF policy, src/shared/webhook-address-policy.ts):
   * APPGRANT_WEBHOOK_ALLOW_PRIVATE (loopback, RFC 1918, unique local, CGNAT) and APPGRANT_WEBHOOK_ALLOWED_CIDRS.
   */
  webhookPolicy: { allowPrivate: boolean; allowedCidrs: string[] };
  /**
   * The delivery worker (src/webhooks/outbox.ts): seconds one attempt may take (APPGRANT_WEBHOOK_TIMEOUT),
   * hours after which an undelivered delivery is given up (APPGRANT_WEBHOOK_GIVE_UP_HOURS), and hours a
   * rotated webhook secret still signs deliveries alongside the new one (APPGRANT_WEBHOOK_SECRET_OVERLAP_HOURS).
   * An application's webhooks are paused after APPGRANT_WEBHOOK_PAUSE_AFTER_FAILURES failed attempts in a row
   * spanning at least APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS (src/domain/webhook-pause.ts).
   */
  webhookTimeout: number;
  webhookGiveUpHours: number;
  webhookSecretOverlap: number;
  webhookPauseAfterFailures: number;
  webhookPauseAfterHours: number;
  /** Seconds a SIGTERM/SIGINT shutdown may take (APPGRANT_SHUTDOWN_GRACE); then open connections are cut (src/main/shutdown.ts). */
  shutdownGrace: number;
  /** Milliseconds any one Redis step may take: connecting, each command (APPGRANT_REDIS_TIMEOUT). */
  redisTimeout: number;
  /** Deadlines and pool size of the database (see DatabaseSettings). */
  db: DatabaseSettings;
  /**
   * Serve the OpenAPI document (GET /openapi.json) and the API reference (GET /docs) on the
   * public port (APPGRANT_DOCS, default true): both are static descriptions of the API,
   * the same as openapi.yaml, with nothing of this server's configuration in them.
   */
  docs: boolean;
  /**
   * The secret-scanning partner endpoint (POST /secret-scanning/github): where the scanner's
   * public keys come from, APPGRANT_SECRET_SCANNING_KEYS_URL (GitHub's public-keys document) or
   * APPGRANT_SECRET_SCANNING_KEYS_FILE (the same format). Undefined: the endpoint is off (404).
   */
  secretScanningKeys: { url: string } | { file: string } | undefined;
  /** What a leaked client or webhook secret becomes (APPGRANT_LEAKED_SECRET_ACTION): kept and marked, or deleted. */
  leakedSecretAction: LeakedSecretAction;
  /** POST /oauth/credentials/revoke requests per IP and window (APPGRANT_CREDENTIAL_REVOKE_LIMIT, …_WINDOW); 0 disables. */
  credentialRevokeLimit: { perIp: number; windowSeconds: number };
}

export { ConfigError };

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

function database(env: Env, cwd: string): DatabaseLocation {
  return parseDatabaseUrl(read(env, "DATABASE_URL") ?? `file:${DEFAULT_DATABASE_FILE}`, cwd);
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

/**
 * The warning for an issuer derived from PORT: the server (at start) and the CLI (next to
 * a link it prints) would disagree on `iss` whenever their PORTs differ, and a client
 * that checks `iss` (RFC 9207) would then refuse the CLI's links.
 */
export function issuerWarning(config: Pick<Config, "issuer" | "issuerFromPort">): string | undefined {
  if (!config.issuerFromPort) return undefined;
  return (
    `APPGRANT_ISSUER is not set: the issuer (iss) is ${config.issuer}, derived from PORT, and the server and the CLI ` +
    "each derive it from their own PORT. Set APPGRANT_ISSUER to the server's public URL, for both."
  );
}

function redisUrl(env: Env): string | undefined {
  const raw = read(env, "REDIS_URL");
  if (raw !== undefined && !/^rediss?:\/\//.test(raw)) throw new ConfigError("REDIS_URL", `must start with redis:// or rediss://, got "${raw}"`);
  return raw;
}

// With `true`, the client's address is the left-most X-Forwarded-For entry, which the
// client itself writes unless the proxy replaces the header: the per-IP rate limits
// would count whatever address a caller claims. With the proxies' addresses, the
// client's address is the entry the last trusted proxy appended.
const PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/** A plain IPv4 (four decimal parts) or IPv6 address, optionally with a prefix length. */
function isAddressOrCidr(value: string): boolean {
  const [address = "", prefix, extra] = value.split("/");
  if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return false;
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) return prefix === undefined || Number(prefix) <= 32;
  return ipaddr.IPv6.isValid(address) && (prefix === undefined || Number(prefix) <= 128);
}

function trustProxy(env: Env): boolean | string[] {
  const raw = read(env, "APPGRANT_TRUST_PROXY") ?? "false";
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === "true";
  const entries = raw.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    if (!PROXY_NAMES.has(entry) && !isAddressOrCidr(entry)) {
      throw new ConfigError("APPGRANT_TRUST_PROXY", `must be true, false, or the proxies' addresses or CIDRs (comma-separated), got "${entry}"`);
    }
  }
  return entries;
}

function consentUrl(env: Env): string | undefined {
  return platformUrl(env, "APPGRANT_CONSENT_URL");
}

/** A page of the platform's (consent, device verification): an absolute http(s) URL, or unset. */
function platformUrl(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${raw}"`);
  }
  return raw;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = (read(env, name) ?? String(fallback)).toLowerCase();
  if (raw !== "true" && raw !== "false") throw new ConfigError(name, `must be true or false, got "${raw}"`);
  return raw === "true";
}

function webhookPolicy(env: Env): Config["webhookPolicy"] {
  const allowPrivate = (read(env, "APPGRANT_WEBHOOK_ALLOW_PRIVATE") ?? "false").toLowerCase();
  if (allowPrivate !== "true" && allowPrivate !== "false") {
    throw new ConfigError("APPGRANT_WEBHOOK_ALLOW_PRIVATE", `must be true or false, got "${allowPrivate}"`);
  }
  const allowedCidrs = (read(env, "APPGRANT_WEBHOOK_ALLOWED_CIDRS") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const parsed = parseCidr(entry);
      if (parsed === undefined) {
        throw new ConfigError("APPGRANT_WEBHOOK_ALLOWED_CIDRS", `"${entry}" is not a CIDR such as 10.20.0.0/16 or fd00:1::/48`);
      }
      return parsed;
    });
  return { allowPrivate: allowPrivate === "true", allowedCidrs };
}

/**
 * APPGRANT_SECRET_KEY (one key or several, comma- or newline-separated, newest first) or
 * APPGRANT_SECRET_KEY_FILE (a file holding them, e.g. a mounted secret). A key file others
 * can write is refused: whoever writes it chooses the key. Errors never quote a key.
 */
function serverKeys(env: Env, cwd: string): { keys: string[] | undefined; file: string | undefined } {
  const inline = read(env, "APPGRANT_SECRET_KEY");
  const named = read(env, "APPGRANT_SECRET_KEY_FILE");
  if (inline !== undefined && named !== undefined) {
    throw new ConfigError("APPGRANT_SECRET_KEY_FILE", "set either APPGRANT_SECRET_KEY or APPGRANT_SECRET_KEY_FILE, not both");
  }
  if (inline !== undefined) {
    const keys = parseKeyList(inline);
    const problem = keyListProblem(keys);
    if (problem) throw new ConfigError("APPGRANT_SECRET_KEY", problem);
    return { keys, file: undefined };
  }
  if (named === undefined) return { keys: undefined, file: undefined };
  const file = resolve(cwd, named);
  let text: string;
  let mode: number;
  try {
    const stat = statSync(file); // follows symlinks, as Kubernetes mounts secrets
    if (!stat.isFile()) throw Object.assign(new Error(), { code: "not a regular file" });
    mode = stat.mode;
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError("APPGRANT_SECRET_KEY_FILE", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  if ((mode & 0o022) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new ConfigError("APPGRANT_SECRET_KEY_FILE", `${file} is writable by other users (mode ${octal}); chmod 600 (or 400) it`);
  }
  const keys = parseKeyList(text);
  const problem = keyListProblem(keys);
  if (problem) throw new ConfigError("APPGRANT_SECRET_KEY_FILE", `${file} ${problem}`);
  return { keys, file };
}

function databaseSettings(env: Env): DatabaseSettings {
  const defaults = DEFAULT_DATABASE_SETTINGS;
  return {
    poolSize: integer(env, "APPGRANT_PG_POOL_SIZE", defaults.poolSize, 1, 1000),
    connectTimeoutMs: integer(env, "APPGRANT_DB_CONNECT_TIMEOUT", defaults.connectTimeoutMs, 50, 600_000),
    queryTimeoutMs: integer(env, "APPGRANT_DB_QUERY_TIMEOUT", defaults.queryTimeoutMs, 50, 600_000),
    readyTimeoutMs: integer(env, "APPGRANT_READY_TIMEOUT", defaults.readyTimeoutMs, 50, 60_000),
    backgroundCheckpoints: flag(env, "APPGRANT_SQLITE_BACKGROUND_CHECKPOINTS", true),
  };
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const port = integer(env, "PORT", 3000, 0, 65535);
  const adminToken = read(env, "APPGRANT_ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 32) {
    throw new ConfigError("APPGRANT_ADMIN_TOKEN", "must be at least 32 characters (try: openssl rand -hex 32)");
  }
  const { keys: secretKeys, file: secretKeyFile } = serverKeys(env, cwd);
  const logLevel = (read(env, "LOG_LEVEL") ?? "info").toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const location = database(env, cwd);
  if (secretKeys === undefined && location.kind !== "sqlite") {
    // Several processes share a PostgreSQL database; they must derive the same secrets.
    throw new ConfigError(
      "APPGRANT_SECRET_KEY",
      "is required with PostgreSQL (or APPGRANT_SECRET_KEY_FILE): every process must share the keys (try: openssl rand -hex 32)",
    );
  }
  const day = 86_400;
  const issuerUrl = issuer(env, port);
  return {
    port,
    host: read(env, "HOST") ?? "127.0.0.1",
    database: location,
    issuer: issuerUrl,
    issuerFromPort: read(env, "APPGRANT_ISSUER") === undefined,
    audience: read(env, "APPGRANT_AUDIENCE") ?? issuerUrl,
    consentUrl: consentUrl(env),
    device: {
      verificationUrl: platformUrl(env, "APPGRANT_DEVICE_VERIFICATION_URL"),
      lifetime: integer(env, "APPGRANT_DEVICE_CODE_LIFETIME", 600, 60, 3600),
      interval: integer(env, "APPGRANT_DEVICE_POLL_INTERVAL", 5, 1, 60),
      lookupFailures: integer(env, "APPGRANT_DEVICE_LOOKUP_FAILURES", 10, 0, 10_000_000),
    },
    scopes: read(env, "APPGRANT_SCOPES")?.split(/\s+/),
    adminToken,
    codeLifetime: integer(env, "APPGRANT_CODE_LIFETIME", 600, 1, 3600),
    accessTokenLifetime: integer(env, "APPGRANT_ACCESS_TOKEN_LIFETIME", 8 * 3600, 60, 30 * day),
    refreshTokenLifetime: integer(env, "APPGRANT_REFRESH_TOKEN_LIFETIME", 180 * day, 60, 3650 * day),
    logLevel: logLevel as LogLevel,
    trustProxy: trustProxy(env),
    secretKeys,
    secretKeyFile,
    refreshGracePeriod: integer(env, "APPGRANT_REFRESH_GRACE_PERIOD", 60, 0, 3600),
    installationTokenLifetime: integer(env, "APPGRANT_INSTALLATION_TOKEN_LIFETIME", 3600, 60, 86_400),
    commit: commitId(env),
    metricsPort: read(env, "APPGRANT_METRICS_PORT") === undefined ? undefined : integer(env, "APPGRANT_METRICS_PORT", 0, 0, 65_535),
    metricsHost: read(env, "APPGRANT_METRICS_HOST") ?? "127.0.0.1",
    metricsPerClient: flag(env, "APPGRANT_METRICS_PER_CLIENT", false),
    tracing: tracing(env),
    rateLimit: {
      windowSeconds: integer(env, "APPGRANT_RATE_LIMIT_WINDOW", 60, 1, 86_400),
      perIp: integer(env, "APPGRANT_RATE_LIMIT_PER_IP", 1200, 0, 10_000_000),
      perClient: integer(env, "APPGRANT_RATE_LIMIT_PER_CLIENT", 600, 0, 10_000_000),
      authFailures: integer(env, "APPGRANT_RATE_LIMIT_AUTH_FAILURES", 20, 0, 10_000_000),
      authFailuresPerIp: integer(env, "APPGRANT_RATE_LIMIT_AUTH_FAILURES_PER_IP", 100, 0, 10_000_000),
    },
    redisUrl: redisUrl(env),
    redisPrefix: read(env, "APPGRANT_REDIS_PREFIX") ?? "appgrant:",
    redisTimeout: integer(env, "APPGRANT_REDIS_TIMEOUT", 500, 10, 60_000),
    purgeInterval: integer(env, "APPGRANT_PURGE_INTERVAL", 0, 0, 7 * day),
    eventRetentionDays: integer(env, "APPGRANT_EVENT_RETENTION_DAYS", 90, 0, 36_500),
    webhookPolicy: webhookPolicy(env),
    webhookTimeout: integer(env, "APPGRANT_WEBHOOK_TIMEOUT", 10, 1, 120),
    webhookGiveUpHours: integer(env, "APPGRANT_WEBHOOK_GIVE_UP_HOURS", 72, 1, 30 * 24),
    webhookSecretOverlap: integer(env, "APPGRANT_WEBHOOK_SECRET_OVERLAP_HOURS", 24, 0, 30 * 24) * 3600,
    webhookPauseAfterFailures: integer(env, "APPGRANT_WEBHOOK_PAUSE_AFTER_FAILURES", 20, 1, 1_000_000),
    webhookPauseAfterHours: integer(env, "APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS", 24, 0, 30 * 24),
    // Below Docker's default stop timeout (10 s), after which it sends SIGKILL.
    shutdownGrace: integer(env, "APPGRANT_SHUTDOWN_GRACE", 8, 1, 3600),
    db: databaseSettings(env),
    docs: flag(env, "APPGRANT_DOCS", true),
    secretScanningKeys: secretScanningKeys(env, cwd),
    leakedSecretAction: leakedSecretAction(env),
    credentialRevokeLimit: {
      perIp: integer(env, "APPGRANT_CREDENTIAL_REVOKE_LIMIT", 60, 0, 10_000_000),
      windowSeconds: integer(env, "APPGRANT_CREDENTIAL_REVOKE_LIMIT_WINDOW", 3600, 1, 86_400),
    },
  };
}

/** The scanner's keys: an https URL (http only on a loopback host) or a readable file. */
function secretScanningKeys(env: Env, cwd: string): Config["secretScanningKeys"] {
  const url = read(env, "APPGRANT_SECRET_SCANNING_KEYS_URL");
  const file = read(env, "APPGRANT_SECRET_SCANNING_KEYS_FILE");
  if (url !== undefined && file !== undefined) {
    throw new ConfigError(
      "APPGRANT_SECRET_SCANNING_KEYS_FILE",
      "set either APPGRANT_SECRET_SCANNING_KEYS_URL or APPGRANT_SECRET_SCANNING_KEYS_FILE, not both",
    );
  }
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError("APPGRANT_SECRET_SCANNING_KEYS_URL", `must be an absolute URL, got "${url}"`);
    }
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
    if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) {
      throw new ConfigError("APPGRANT_SECRET_SCANNING_KEYS_URL", "must be an https URL (plain http only for a loopback host)");
    }
    return { url };
  }
  if (file === undefined) return undefined;
  const path = resolve(cwd, file);
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error(), { code: "not a regular file" });
  } catch (error) {
    throw new ConfigError("APPGRANT_SECRET_SCANNING_KEYS_FILE", `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  return { file: path };
}

function leakedSecretAction(env: Env): LeakedSecretAction {
  const raw = (read(env, "APPGRANT_LEAKED_SECRET_ACTION") ?? "notify").toLowerCase();
  if (!(LEAKED_SECRET_ACTIONS as readonly string[]).includes(raw)) {
    throw new ConfigError("APPGRANT_LEAKED_SECRET_ACTION", `must be one of ${LEAKED_SECRET_ACTIONS.join(", ")}, got "${raw}"`);
  }
  return raw as LeakedSecretAction;
}

/**
 * The OTLP/HTTP traces URL, as the OpenTelemetry SDKs read it: the signal-specific
 * variable as is, else the base endpoint with /v1/traces appended. appgrant exports
 * OTLP over HTTP (port 4318), not gRPC.
 */
function tracing(env: Env): TracingSettings | undefined {
  if ((read(env, "OTEL_SDK_DISABLED") ?? "").toLowerCase() === "true") return undefined;
  const specific = read(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const base = read(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (specific === undefined && base === undefined) return undefined;
  const name = specific !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
  const protocol = read(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? read(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/json" && protocol !== "http/protobuf") {
    throw new ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL", `appgrant exports traces over OTLP/HTTP (http/json, port 4318), got "${protocol}"`);
  }
  let url: URL;
  try {
    url = new URL(specific ?? base!);
  } catch {
    throw new ConfigError(name, "must be an absolute http(s) URL, e.g. http://127.0.0.1:4318");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(name, "must be an http(s) URL");
  if (specific === undefined) url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`;
  return { url: url.toString(), serviceName: read(env, "OTEL_SERVICE_NAME") ?? "appgrant" };
}

/** APPGRANT_COMMIT: a git commit id (hex, 7 to 64 characters), or unset. */
function commitId(env: Env): string | undefined {
  const value = read(env, "APPGRANT_COMMIT");
  if (value === undefined) return undefined;
  if (!/^[0-9a-f]{7,64}$/i.test(value)) throw new ConfigError("APPGRANT_COMMIT", "must be a git commit id (7 to 64 hex digits)");
  return value.toLowerCase();
}
