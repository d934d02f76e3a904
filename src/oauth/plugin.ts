// The OAuth endpoints' context: its own body parsing, error shape (RFC 6749 §5.2)
// and no-store headers, separate from the admin API.
import formbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticateClient } from "./client-auth.js";
import { invalidRequest, OAuthError, serverError, unauthorizedClient, unsupportedGrantType } from "./errors.js";
import type { GrantRegistry } from "./grant-type.js";
import { duplicateTopLevelKey, readParams } from "./params.js";
import type { TokenStore } from "./token-store.js";

export interface OAuthOptions {
  registry: GrantRegistry;
  store: TokenStore;
  secretKey: string;
}

const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, error_description: { type: "string" } },
  required: ["error"],
} as const;

const tokenSchema = {
  type: "object",
  properties: {
    access_token: { type: "string" },
    token_type: { type: "string" },
    expires_in: { type: "integer" },
    refresh_token: { type: "string" },
    scope: { type: "string" },
    installation_id: { type: "string" },
  },
  required: ["access_token", "token_type", "expires_in", "scope", "installation_id"],
} as const;

function noStore(reply: FastifyReply): void {
  // RFC 6749 §5.1: responses carrying tokens (and, here, every response) must not be cached.
  reply.header("Cache-Control", "no-store").header("Pragma", "no-cache");
}

function sendError(error: OAuthError, request: FastifyRequest, reply: FastifyReply) {
  noStore(reply);
  if (error.error === "invalid_client" && request.headers.authorization !== undefined) {
    reply.header("WWW-Authenticate", 'Basic realm="appgrant", charset="UTF-8"');
  }
  const level = error.statusCode >= 500 ? "error" : "info";
  request.log[level]({ oauthError: error.error, description: error.description, detail: error.detail }, "token request refused");
  return reply.code(error.statusCode).send(error.toJSON());
}

function toOAuthError(error: FastifyError, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || error.code === "FST_ERR_CTP_EMPTY_TYPE") {
    return invalidRequest("content type must be application/x-www-form-urlencoded or application/json");
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return invalidRequest("malformed request body", error.code);
  }
  request.log.error({ err: error }, "token endpoint failure");
  return serverError();
}

export async function oauthEndpoints(app: FastifyInstance, options: OAuthOptions): Promise<void> {
  const { registry, store, secretKey } = options;
  const { hasher, clock } = app.domain;

  // Only the two body types the endpoint speaks; anything else is a 415 from Fastify,
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
    if (duplicate !== null) return done(invalidRequest(`parameter ${/^[\w.-]{1,40}$/.test(duplicate) ? duplicate : "(invalid name)"} is repeated`));
    done(null, parsed);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(toOAuthError(error, request), request, reply));
  app.setNotFoundHandler((request, reply) => {
    if (request.url.split("?")[0] === "/oauth/token") {
      reply.header("Allow", "POST");
      return sendError(new OAuthError("invalid_request", 405, "the token endpoint accepts POST only"), request, reply);
    }
    return sendError(new OAuthError("invalid_request", 404, "no such endpoint"), request, reply);
  });

  app.post(
    "/token",
    { schema: { response: { 200: tokenSchema, "4xx": errorSchema, "5xx": errorSchema } } },
    async (request, reply) => {
      noStore(reply);
      const all = readParams(request.body);
      const grantTypeName = all.get("grant_type");
      if (grantTypeName === undefined) throw invalidRequest("grant_type is required");
      const grant = registry.get(grantTypeName);
      if (!grant) throw unsupportedGrantType();
      for (const name of grant.required) if (!all.has(name)) throw invalidRequest(`${name} is required`);

      const now = clock();
      const client = await authenticateClient(request.headers, all, store, hasher, now);
      if (!client.grantTypes.has(grant.name)) throw unauthorizedClient("the client is not allowed to use this grant type");

      const params = new Map(grant.parameters.flatMap((name) => (all.has(name) ? [[name, all.get(name)!] as const] : [])));
      return grant.handle({
        client,
        params,
        now,
        log: request.log,
        store,
        hasher,
        config: app.config,
        secretKey,
      });
    },
  );
}
