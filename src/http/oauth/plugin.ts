// The OAuth endpoints' context: its own body parsing, error shape (RFC 6749 §5.2)
// and no-store headers, separate from the admin API.
import formbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest, OAuthError, serverError } from "../../oauth/errors.js";
import type { GrantRegistry } from "../../oauth/grant-type.js";
import { claimedForLog, duplicateTopLevelKey, safeName } from "../../oauth/params.js";
import { noStore } from "./responses.js";
import { revocationRoute } from "./revocation-route.js";
import { type CredentialRevokeLimit, credentialRevocationRoute } from "./credential-revocation-route.js";
import { introspectionRoute } from "./introspection-route.js";
import { tokenRoute } from "./token-route.js";
import { deviceAuthorizationRoute } from "./device-authorization-route.js";
import { authorizeRoute, errorPage } from "./authorize-route.js";
import type { OAuthStore } from "../../oauth/token-store.js";
import { type Authenticate, authenticateClient, basicPair } from "../../oauth/client-auth.js";
import { oauthRateLimits, RateLimitError, type RateLimitSettings } from "./rate-limit.js";
import { asUnavailable } from "../../shared/unavailable.js";
import type { ServerKeys } from "../../crypto/server-keys.js";
import { APPGRANT_ATTR } from "../../shared/tracing.js";
import { requestSpan } from "../tracing.js";

export interface OAuthOptions {
  registry: GrantRegistry<OAuthStore>;
  store: OAuthStore;
  secretKey: ServerKeys;
  rateLimits: RateLimitSettings;
  /** The public credential revocation endpoint's per-IP limit. */
  credentialRevokeLimit: CredentialRevokeLimit;
}

/** POST-only endpoints of this context (others answer 405 with Allow: POST). */
const POST_ENDPOINTS = new Set(["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/device_authorization", "/oauth/credentials/revoke"]);

/** The client_id a refused request claimed (HTTP Basic's id, or the client_id parameter), for its log line. */
function claimedClientId(request: FastifyRequest): string | undefined {
  const basic = basicPair(request.headers.authorization);
  if (basic) return claimedForLog(basic.id);
  const fromBody = claimedForLog((request.body as Record<string, unknown> | undefined)?.client_id);
  return fromBody ?? claimedForLog((request.query as Record<string, unknown> | undefined)?.client_id);
}

/** The RFC 6749 error each refused request was answered with, for the token endpoint's metrics. */
const refusals = new WeakMap<FastifyRequest, string>();
/** The client each request authenticated, for the token endpoint's metrics (APPGRANT_METRICS_PER_CLIENT). */
const authenticated = new WeakMap<FastifyRequest, string>();

/** How the request tried to authenticate its client, as a bounded metrics label. */
function authMethodOf(request: FastifyRequest): string {
  const body = (request.body ?? {}) as Record<string, unknown>;
  if (/^basic /i.test(request.headers.authorization ?? "")) return "client_secret_basic";
  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) return "private_key_jwt";
  if (body.client_secret !== undefined) return "client_secret_post";
  return "none";
}

function sendError(error: OAuthError, request: FastifyRequest, reply: FastifyReply) {
  noStore(reply);
  refusals.set(request, error.error);
  requestSpan(request)?.setAttribute(APPGRANT_ATTR.oauthError, error.error);
  if (error.error === "invalid_client") request.server.metrics.clientAuthFailure(authMethodOf(request));
  if (error instanceof RateLimitError) request.server.metrics.rateLimited(error.limit);
  if (error.statusCode === 401) {
    const scheme = /^bearer /i.test(request.headers.authorization ?? "") ? "Bearer" : "Basic";
    if (request.headers.authorization !== undefined) reply.header("WWW-Authenticate", `${scheme} realm="appgrant", charset="UTF-8"`);
  }
  if (error.retryAfter !== undefined) reply.header("Retry-After", String(error.retryAfter));
  // A database outage is logged once, when it starts and ends (src/shared/dependency-status.ts), not per request.
  const level = error.statusCode >= 500 && error.error !== "temporarily_unavailable" ? "error" : "info";
  const clientId = claimedClientId(request);
  request.log[level]({ clientId, oauthError: error.error, description: error.description, detail: error.detail }, "OAuth request refused");
  if (request.routeOptions.config?.errorPage) return errorPage(reply, error.statusCode, error.error, error.description);
  return reply.code(error.statusCode).send(error.toJSON());
}

function toOAuthError(error: FastifyError, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) return error;
  const unavailable = asUnavailable(error);
  if (unavailable) return new OAuthError("temporarily_unavailable", 503, unavailable.message, undefined, unavailable.retryAfter);
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

  // The request schemas of this context document the parameters (openapi.yaml) and
  // validate nothing: the endpoints read their parameters themselves (src/oauth/params.ts,
  // each grant declaring its own), so that a repeated, empty or malformed one is answered
  // as RFC 6749 says (invalid_request, an error page or a redirect to the client), which
  // a schema failure cannot be. A validator that accepts everything keeps Fastify from
  // compiling them, coercing or stripping anything; @fastify/swagger still reads them.
  // (Response schemas are unaffected: they serialise, as everywhere.)
  app.setValidatorCompiler(() => () => true);
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(toOAuthError(error, request), request, reply));
  app.setNotFoundHandler((request, reply) => {
    if (POST_ENDPOINTS.has(request.url.split("?")[0]!)) {
      reply.header("Allow", "POST");
      return sendError(new OAuthError("invalid_request", 405, "this endpoint accepts POST only"), request, reply);
    }
    return sendError(new OAuthError("invalid_request", 404, "no such endpoint"), request, reply);
  });

  // /oauth/token's answers by grant type (registered names only: the parameter is the caller's) and outcome.
  app.addHook("onResponse", async (request, reply) => {
    if (request.routeOptions.url !== "/oauth/token") return;
    const grantType = (request.body as Record<string, unknown> | undefined)?.grant_type;
    const name = typeof grantType === "string" && options.registry.get(grantType) ? grantType : "unknown";
    app.metrics.tokenRequest(name, reply.statusCode === 200 ? "success" : (refusals.get(request) ?? "error"), authenticated.get(request));
  });

  const limits = await oauthRateLimits(app, options.rateLimits);
  const { store } = options;
  const { hasher } = app.domain;
  // RFC 7523 §3: the assertion's audience identifies this server, by its issuer or its token endpoint.
  const audiences = [app.config.issuer, `${app.config.issuer}/oauth/token`];
  const verify: Authenticate = (request, params, now) =>
    limits.authenticate(request as FastifyRequest, (beforeVerification) =>
      authenticateClient(request.headers, params, { store, hasher, now, beforeVerification, audiences }),
    );
  // The client is remembered for the metrics only where they label by client (opt-in).
  const authenticate: Authenticate = !app.config.metricsPerClient
    ? verify
    : async (request, params, now) => {
        const client = await verify(request, params, now);
        authenticated.set(request as FastifyRequest, client.clientId);
        return client;
      };
  const routeOptions = { store, authenticate, preHandler: limits.hooks };
  tokenRoute(app, { ...routeOptions, registry: options.registry, secretKey: options.secretKey });
  revocationRoute(app, routeOptions);
  introspectionRoute(app, routeOptions);
  deviceAuthorizationRoute(app, routeOptions);
  credentialRevocationRoute(app, options.credentialRevokeLimit);
  authorizeRoute(app);
}
