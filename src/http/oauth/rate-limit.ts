// Rate limits of /oauth/token, /oauth/revoke and /oauth/introspect, per endpoint and
// window, counted in memory or, with REDIS_URL, in Redis for every process (falling
// back to per-process counting while Redis is unavailable: src/storage/redis.ts).
//
// Requests:
// - per IP address, on every request (resource servers presenting the admin token
//   are the platform itself and are not limited);
// - per client, on *authenticated* requests only: a client_id is public, so requests
//   that merely claim one must not spend that client's quota. A public client is
//   anyone who knows its id (its users' devices), so it is counted per (client, IP).
//
// Failed client authentications, so that guessing secrets costs the guesser, not the
// server's argon2 budget, and never locks the real client out:
// - a secret that some process verified recently is recognised without argon2
//   (SecretHasher) and is never refused for failures: whoever presents the right
//   credential passes, even from an address an attacker shares or forges;
// - any other secret is an attempt, counted before argon2 runs (as a failure until it
//   succeeds) per (client, IP) (authFailures) and per IP across clients
//   (authFailuresPerIp): a caller past either is refused (429) without verification;
// - and per client, whoever sends it: at most 2 × authFailures argon2 verifications
//   of secrets nobody recognises per client and window. A distributed attack (rotated
//   addresses, IPv6 ranges, forged X-Forwarded-For behind `APPGRANT_TRUST_PROXY=true`)
//   spends this budget, not the server, and not the client's recognised secret.
// Unknown client ids, missing or malformed secrets cost no argon2 and count only
// against the caller.
import { createHash } from "node:crypto";
import ipaddr from "ipaddr.js";
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { presentsAdminToken } from "../admin-token.js";
import { type AuthenticatedClient, basicPair, type BeforeVerification } from "../../oauth/client-auth.js";
import { OAuthError } from "../../oauth/errors.js";
import type { Count, Counter } from "../../shared/counter.js";
import type { RateLimitName } from "../../shared/metrics.js";
import { recordAuthenticationLocked } from "../../domain/audit.js";
import { withActor } from "../../domain/context.js";

export interface RateLimitSettings {
  windowSeconds: number;
  /** Requests per window; 0 disables that limit. */
  perIp: number;
  perClient: number;
  /** Failed authentications per (client, IP), half a client's argon2 budget; 0 disables failure limits. */
  authFailures: number;
  /** Failed authentications per IP, across clients; 0 disables this one. */
  authFailuresPerIp: number;
  /** Where hits are counted: in memory, or shared by every process (src/storage/rate-limit-counter.ts). */
  counter: Counter;
}

export interface OAuthRateLimits {
  /** Hooks for a rate-limited route (the per-IP request limit; empty when it is disabled). */
  hooks: preHandlerAsyncHookHandler[];
  /**
   * Runs a client authentication under the limits: `run` gets the check to make before
   * spending argon2; a failure is counted (and answered 429 once the caller is over its
   * limit); a success is counted against the client's request limit.
   */
  authenticate(request: FastifyRequest, run: (beforeVerification: BeforeVerification) => Promise<AuthenticatedClient>): Promise<AuthenticatedClient>;
}

/** A refusal by a rate limit: 429 temporarily_unavailable with Retry-After, counted in the metrics under `limit`. */
export class RateLimitError extends OAuthError {
  constructor(
    readonly limit: RateLimitName,
    count: Count,
    detail: string,
  ) {
    const seconds = Math.max(1, Math.ceil(count.ttlMs / 1000));
    super("temporarily_unavailable", 429, `too many requests; retry after ${seconds} seconds`, detail, seconds);
  }
}

export function tooMany(count: Count, limit: RateLimitName, detail: string): RateLimitError {
  return new RateLimitError(limit, count, detail);
}

/** The client_id a request claims (HTTP Basic or body), before it is authenticated. */
export function claimedClientId(request: FastifyRequest): string | undefined {
  const basic = basicPair(request.headers.authorization);
  // Decoded as client authentication decodes it: another encoding of an id is the same client.
  if (basic && basic.id !== "") return formDecoded(basic.id);
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.client_id === "string" && body.client_id !== "" ? body.client_id : undefined;
}

function formDecoded(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return value;
  }
}

/**
 * The caller's address as a limit sees it: an IPv6 address by its /64, the block one
 * subscriber gets (otherwise every request could come from a new address), and an
 * IPv4-mapped address as the IPv4 address it is.
 */
export function limitAddress(ip: string): string {
  try {
    const address = ipaddr.process(ip);
    if (address.kind() === "ipv4") return address.toString();
    return `${(address as ipaddr.IPv6).parts
      .slice(0, 4)
      .map((part) => part.toString(16))
      .join(":")}::/64`;
  } catch {
    return ip;
  }
}

/** A client id as part of a key: as it is when it looks like one, hashed when it is arbitrary input. */
function clientKey(clientId: string): string {
  return /^[A-Za-z0-9._~-]{1,64}$/.test(clientId) ? clientId : `#${createHash("sha256").update(clientId).digest("hex").slice(0, 32)}`;
}

export async function oauthRateLimits(app: FastifyInstance, settings: RateLimitSettings): Promise<OAuthRateLimits> {
  const windowMs = settings.windowSeconds * 1000;
  const { counter } = settings;

  const endpoint = (request: FastifyRequest) => request.routeOptions.url ?? request.url;
  const addressOf = (request: FastifyRequest) => limitAddress(request.ip);

  const hooks: preHandlerAsyncHookHandler[] = [];
  if (settings.perIp > 0) {
    hooks.push(async (request) => {
      if (presentsAdminToken(request.headers, app.config.adminToken)) return;
      const count = await counter.hit(`ip:${endpoint(request)}:${addressOf(request)}`, windowMs);
      if (count.count > settings.perIp) throw tooMany(count, "per_ip", "request limit per IP address");
    });
  }

  async function clientRequest(request: FastifyRequest, client: AuthenticatedClient): Promise<void> {
    if (settings.perClient <= 0) return;
    const who = client.clientType === "public" ? `${clientKey(client.clientId)}:${addressOf(request)}` : clientKey(client.clientId);
    const count = await counter.hit(`client:${endpoint(request)}:${who}`, windowMs);
    if (count.count > settings.perClient) throw tooMany(count, "per_client", "request limit per client");
  }

  const failures = settings.authFailures;
  const perIpFailures = settings.authFailuresPerIp;
  const byIpKey = (request: FastifyRequest) => `fail-ip:${addressOf(request)}`;
  const byClientIpKey = (request: FastifyRequest, clientId: string) => `fail-client-ip:${clientKey(clientId)}:${addressOf(request)}`;

  /**
   * client.authentication_locked, when the (client, IP) failure limit refuses for the
   * first time in its window: the count passes the limit exactly once per window and
   * key, so the event is recorded at most once, whichever process counts it. A failure
   * to record it is logged and does not change the answer.
   */
  async function lockedOut(request: FastifyRequest, clientId: string, count: Count): Promise<void> {
    if (count.count !== failures + 1) return;
    const ctx = withActor(app.domain, { type: "system", requestId: request.id, sourceIp: request.ip });
    try {
      await recordAuthenticationLocked(ctx, {
        clientId,
        failures,
        windowSeconds: settings.windowSeconds,
        retryAfterSeconds: Math.max(1, Math.ceil(count.ttlMs / 1000)),
      });
    } catch (error) {
      request.log.warn({ err: error, clientId }, "client.authentication_locked could not be recorded");
    }
  }

  /**
   * Before argon2 runs on a secret nobody recognises. The attempt is counted first, as a
   * failure until it succeeds, with atomic increments: concurrent guesses cannot all
   * pass a limit that each of them read before any had failed.
   */
  async function beforeVerification(request: FastifyRequest, clientId: string): Promise<void> {
    const [byIp, byClientIp] = await Promise.all([
      perIpFailures > 0 ? counter.hit(byIpKey(request), windowMs) : undefined,
      counter.hit(byClientIpKey(request, clientId), windowMs),
    ]);
    if (byIp && byIp.count > perIpFailures) throw tooMany(byIp, "auth_failures_per_ip", "failed authentications from this IP address");
    if (byClientIp.count > failures) {
      await lockedOut(request, clientId, byClientIp);
      throw tooMany(byClientIp, "auth_failures_per_client", "failed authentications for this client from this IP address");
    }
    // Only callers within their own limits spend the client's budget: a refused one cannot exhaust it.
    const byClient = await counter.hit(`verify-client:${clientKey(clientId)}`, windowMs);
    if (byClient.count > 2 * failures) throw tooMany(byClient, "argon2_budget_per_client", "argon2 budget of this client spent");
  }

  /** A failure that cost no argon2 (unknown client_id, missing or malformed secret): counted against the caller. */
  async function cheapFailure(request: FastifyRequest): Promise<void> {
    const clientId = claimedClientId(request);
    const [byIp, byClientIp] = await Promise.all([
      perIpFailures > 0 ? counter.hit(byIpKey(request), windowMs) : undefined,
      clientId === undefined ? undefined : counter.hit(byClientIpKey(request, clientId), windowMs),
    ]);
    if (byIp && byIp.count > perIpFailures) throw tooMany(byIp, "auth_failures_per_ip", "failed authentications from this IP address");
    if (byClientIp && byClientIp.count > failures) {
      await lockedOut(request, clientId!, byClientIp);
      throw tooMany(byClientIp, "auth_failures_per_client", "failed authentications for this client from this IP address");
    }
  }

  return {
    hooks,
    async authenticate(request, run) {
      if (failures <= 0) {
        const client = await run(async () => undefined);
        await clientRequest(request, client);
        return client;
      }
      let counted = false;
      let client: AuthenticatedClient;
      try {
        client = await run(async (clientId) => {
          counted = true;
          await beforeVerification(request, clientId);
        });
      } catch (error) {
        if (!counted && error instanceof OAuthError && error.error === "invalid_client") await cheapFailure(request);
        throw error;
      }
      await clientRequest(request, client);
      return client;
    },
  };
}
