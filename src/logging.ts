// Structured logs (pino) that never carry a secret: credentials are redacted by
// path, and the request line is logged without its query string's values for the
// parameters that can hold one.
import type { FastifyServerOptions } from "fastify";
import type { DestinationStream } from "pino";
import type { LogLevel } from "./config.js";

export const REDACTED_PARAMS = ["code", "client_secret", "refresh_token", "access_token", "token", "code_verifier", "state", "webhook_secret"];

export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  ...REDACTED_PARAMS.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
];

export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of REDACTED_PARAMS) if (params.has(name)) params.set(name, "[Redacted]");
  return `${url.slice(0, q)}?${params.toString()}`;
}

export function loggerOptions(level: LogLevel, stream?: DestinationStream): FastifyServerOptions["logger"] {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: REDACT_PATHS, censor: "[Redacted]" },
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
