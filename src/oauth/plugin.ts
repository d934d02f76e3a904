// The OAuth endpoints' context: its own body parsing, error shape (RFC 6749 §5.2)
// and no-store headers, separate from the admin API.
import formbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "../db/unavailable.js";
import { invalidRequest, OAuthError, serverError } from "./errors.js";
import type { GrantRegistry } from "./grant-type.js";
import { duplicateTopLevelKey, safeName } from "./params.js";
import { noStore } from "./responses.js";
import { revocationRoute } from "./revocation-route.js";
import { introspectionRoute } from "./introspection-route.js";
import { tokenRoute } from "./token-route.js";
import { authorizeRoute } from "./authorize-route.js";
import type { TokenStore } from "./token-store.js";
import { type Authenticate, authenticateClient } from "./client-auth.js";
import { oauthRateLimits, type RateLimitSettings } from "./rate-limit.js";

export interface OAuthOptions {
  registry: GrantRegistry;
  store: TokenStore;
  secretKey: string;
  rateLimits: RateLimitSettings;
}

/** POST-only endpoints of this context (others answer 405 with Allow: POST). */
const POST_ENDPOINTS = new Set(["/oauth/token", "/oauth/revoke", "/oauth/introspect"]);

function sendError(error: OAuthError, request: FastifyRequest, reply: FastifyReply) {
  noStore(reply);
  if (error.statusCode === 401) {
    const scheme = /^bearer /i.test(request.headers.authorization ?? "") ? "Bearer" : "Basic";
    if (request.headers.authorization !== undefined) reply.header("WWW-Authenticate", `${scheme} realm="appgrant", charset="UTF-8"`);
  }
  if (error.retryAfter !== undefined) reply.header("Retry-After", String(error.retryAfter));
  // A database outage is logged once, when it starts and ends (src/dependency-status.ts), not per request.
  const level = error.statusCode >= 500 && error.error !== "temporarily_unavailable" ? "error" : "info";
  request.log[level]({ oauthError: error.error, description: error.description, detail: error.detail }, "OAuth request refused");
  return reply.code(error.statusCode).send(error.toJSON());
}

function toOAuthError(error: FastifyError, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) return error;
  if (isDatabaseUnavailable(error)) {
    return new OAuthError("temporarily_unavailable", 503, "the server is temporarily unavailable; retry later", undefined, DATABASE_RETRY_AFTER_SECONDS);
  }
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || error.code === "FST_ERR_CTP_EMPTY_TYPE") {
    return invalidRequest("content type must be application/x-www-form-urlencoded or application/json");
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return invalidRequest("malformed request", error.code);
  }
  request.log.error({ err: error }, "OAuth endpoint failure");
  return serverError();
}

export async function oauthEndpoints(app: FastifyInstance, options: OAuthOptions): Promise<void> {
  // Only the two body types the endpoints speak; anything else is a 415 from Fastify,
  // answered as invalid_request. JSON bodies (Sentry-style clients) get the same
  // duplicate-parameter rule as forms (whose parser returns repeated keys as arrays).
  app.removeAllContentTypeParsers();
  await app.register(formbody);
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = body as string;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return done(invalidRequest("request body is not valid JSON"));
    }
    const duplicate = duplicateTopLevelKey(text);
    if (duplicate !== null) return done(invalidRequest(`parameter ${safeName(duplicate)} is repeated`));
    done(null, parsed);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(toOAuthError(error, request), request, reply));
  app.setNotFoundHandler((request, reply) => {
    if (POST_ENDPOINTS.has(request.url.split("?")[0]!)) {
      reply.header("Allow", "POST");
      return sendError(new OAuthError("invalid_request", 405, "this endpoint accepts POST only"), request, reply);
    }
    return sendError(new OAuthError("invalid_request", 404, "no such endpoint"), request, reply);
  });

  const limits = await oauthRateLimits(app, options.rateLimits);
  const { store } = options;
  const { hasher } = app.domain;
  const authenticate: Authenticate = async (request, params, now) => {
    const fastifyRequest = request as FastifyRequest;
    await limits.beforeAuthentication(fastifyRequest);
    try {
      return await authenticateClient(request.headers, params, store, hasher, now);
    } catch (error) {
      if (error instanceof OAuthError && error.error === "invalid_client") await limits.authenticationFailed(fastifyRequest);
      throw error;
    }
  };
  const routeOptions = { store, authenticate, preHandler: limits.hooks };
  tokenRoute(app, { ...routeOptions, registry: options.registry, secretKey: options.secretKey });
  revocationRoute(app, routeOptions);
  introspectionRoute(app, routeOptions);
  authorizeRoute(app);
}
