// Rate limits for /oauth/token, /oauth/revoke and /oauth/introspect (@fastify/rate-limit):
// requests per IP and per client, and failed client authentications per IP and per
// client — checked *before* a secret is verified, so guessing secrets costs the
// guesser, not the server's argon2 budget. In memory by default; through Redis when
// REDIS_URL is set, so the limits hold across processes. A Redis outage fails open
// (logged): availability of the token endpoint wins over throttling.
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { Redis } from "ioredis";
import { presentsAdminToken } from "../admin-token.js";
import { basicPair } from "./client-auth.js";
import { OAuthError } from "./errors.js";

export interface RateLimitSettings {
  windowSeconds: number;
  /** Requests per window; 0 disables that limit. */
  perIp: number;
  perClient: number;
  authFailures: number;
  redis?: Redis | undefined;
  /** Key prefix in Redis. */
  prefix: string;
}

export interface OAuthRateLimits {
  /** Hooks for a rate-limited route (empty when the limits are disabled). */
  hooks: preHandlerAsyncHookHandler[];
  /** Refuses (429) a caller that has failed client authentication too often. */
  beforeAuthentication(request: FastifyRequest): Promise<void>;
  /** Counts a failed client authentication. */
  authenticationFailed(request: FastifyRequest): Promise<void>;
}

function tooMany(seconds: number): OAuthError {
  return new OAuthError("temporarily_unavailable", 429, `too many requests; retry after ${seconds} seconds`, undefined, seconds);
}

/** The client_id a request claims (HTTP Basic or body), before it is authenticated. */
export function claimedClientId(request: FastifyRequest): string | undefined {
  const basic = basicPair(request.headers.authorization);
  if (basic && basic.id !== "") return basic.id;
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.client_id === "string" && body.client_id !== "" ? body.client_id : undefined;
}

export async function oauthRateLimits(app: FastifyInstance, settings: RateLimitSettings): Promise<OAuthRateLimits> {
  const timeWindow = settings.windowSeconds * 1000;
  await app.register(rateLimit, {
    global: false,
    skipOnError: true,
    nameSpace: `${settings.prefix}rate-limit:`,
    ...(settings.redis ? { redis: settings.redis } : {}),
    errorResponseBuilder: (_request, context) => tooMany(Math.ceil(context.ttl / 1000)),
  });
  // Resource servers introspecting with the admin token are the platform itself.
  const isPlatform = (request: FastifyRequest) => presentsAdminToken(request.headers, app.config.adminToken);
  const endpoint = (request: FastifyRequest) => request.routeOptions.url ?? request.url;
  const byIp = (request: FastifyRequest) => `ip:${request.ip}:${endpoint(request)}`;
  const byClient = (request: FastifyRequest) => `client:${claimedClientId(request) ?? `ip:${request.ip}`}:${endpoint(request)}`;

  const hooks: preHandlerAsyncHookHandler[] = [];
  if (settings.perIp > 0) hooks.push(app.rateLimit({ max: settings.perIp, timeWindow, keyGenerator: byIp, allowList: isPlatform }));
  if (settings.perClient > 0) {
    hooks.push(app.rateLimit({ max: settings.perClient, timeWindow, keyGenerator: byClient, allowList: isPlatform }));
  }

  if (settings.authFailures <= 0) {
    return { hooks, beforeAuthentication: async () => undefined, authenticationFailed: async () => undefined };
  }
  const failuresByIp = app.createRateLimit({ max: settings.authFailures, timeWindow, keyGenerator: (r) => `authfail-ip:${r.ip}` });
  const failuresByClient = app.createRateLimit({
    max: settings.authFailures,
    timeWindow,
    keyGenerator: (r) => `authfail-client:${claimedClientId(r) ?? `ip:${r.ip}`}`,
  });
  return {
    hooks,
    async beforeAuthentication(request) {
      for (const check of [failuresByIp, failuresByClient]) {
        const result = await check(request, { increment: false }).catch(() => null);
        // `max` failures are allowed; the attempt after them is refused until the window ends.
        if (result && !result.isAllowed && result.remaining === 0) {
          request.log.warn({ key: result.key }, "client authentication refused: too many failures");
          throw tooMany(result.ttlInSeconds);
        }
      }
    },
    async authenticationFailed(request) {
      await Promise.all([failuresByIp(request), failuresByClient(request)]).catch((error: unknown) => {
        request.log.error({ err: error }, "could not count a failed authentication");
      });
    },
  };
}
