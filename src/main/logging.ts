// Structured logs (pino) that never carry a secret. The request serializer logs no
// header at all and the request line without the values of query parameters that
// can hold a credential; every logged object is also censored by key name (three
// levels deep) as a safety net. The censoring runs only for lines actually written:
// pino's path-based `redact` would cost ~7 µs on every request, because Fastify
// makes a child logger per request and pino redacts each child's bindings.
import type { FastifyServerOptions } from "fastify";
import type { DestinationStream } from "pino";
import { REDACTED, redactPath } from "../shared/path-redaction.js";
import type { LogLevel } from "./config.js";

export const REDACTED_PARAMS = [
  "code",
  "client_secret",
  "refresh_token",
  "access_token",
  "token",
  "code_verifier",
  "state",
  "webhook_secret",
  "private_key",
  "device_code",
  "user_code",
];

const CENSORED_KEYS = new Set([...REDACTED_PARAMS, "authorization", "cookie", "set-cookie"]);

/** A copy of `value` with every credential-named key replaced, `depth` levels down. */
export function censor(value: unknown, depth = 3): unknown {
  if (depth === 0 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => censor(item, depth - 1));
  // Class instances (requests, replies, errors) are left to their serializers, which log no secret.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = CENSORED_KEYS.has(key.toLowerCase()) ? REDACTED : censor(inner, depth - 1);
  }
  return out;
}

/** A request target as logged: credential path segments (src/shared/path-redaction.ts) and query values redacted. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return redactPath(url);
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of REDACTED_PARAMS) if (params.has(name)) params.set(name, REDACTED);
  return `${redactPath(url.slice(0, q))}?${params.toString()}`;
}

export function loggerOptions(level: LogLevel, stream?: DestinationStream): FastifyServerOptions["logger"] {
  return {
    level,
    ...(stream ? { stream } : {}),
    formatters: { log: (object: Record<string, unknown>) => censor(object) as Record<string, unknown> },
    serializers: {
      req(request) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: request.ip,
          userAgent: request.headers["user-agent"],
        };
      },
    },
  };
}
