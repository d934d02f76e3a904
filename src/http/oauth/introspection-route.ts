// POST /oauth/introspect (RFC 7662): the platform's hot path, one indexed row read.
// Callers: a resource server of the platform (Authorization: Bearer <admin token>),
// or an application (client authentication), which sees only its own tokens.
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { bearerToken, presentsAdminToken } from "../admin-token.js";
import type { Authenticate } from "../../oauth/client-auth.js";
import { invalidClient } from "../../oauth/errors.js";
import type { Params } from "../../oauth/params.js";
import { clientSecurity, formOrJson, invalidRequestResponse, noStore, noStoreHeaders, oauthErrors, tokenLookupRequest } from "./responses.js";
import { findToken, tokenRequestParams } from "../../oauth/find-token.js";
import type { TokenStore } from "../../oauth/token-store.js";

const introspectionSchema = {
  type: "object",
  description: "RFC 7662 §2.2. Only `active` is present when the token is not active.",
  properties: {
    active: { type: "boolean" },
    scope: { type: "string", description: "Space-separated scopes of the token." },
    client_id: { type: "string" },
    token_type: { type: "string", enum: ["Bearer", "refresh_token"], description: "`Bearer` for an access token." },
    exp: { type: "integer", description: "Expiry, seconds since the epoch." },
    iat: { type: "integer", description: "Issue time, seconds since the epoch." },
    sub: { type: "string", description: "The installation's account." },
    aud: { type: "string", description: "APPGRANT_AUDIENCE (default: the issuer)." },
    iss: { type: "string", description: "APPGRANT_ISSUER." },
    installation_id: { type: "string" },
    account: { type: "string" },
  },
  required: ["active"],
} as const;

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export function introspectionRoute(
  app: FastifyInstance,
  { store, authenticate, preHandler }: { store: TokenStore; authenticate: Authenticate; preHandler: preHandlerAsyncHookHandler[] },
): void {
  const { clock } = app.domain;

  /** Resource servers present the admin token; anyone else must be an authenticated client. */
  async function caller(request: FastifyRequest, params: Params, now: Date): Promise<{ applicationId: string | null }> {
    if (bearerToken(request.headers) !== undefined) {
      if (!presentsAdminToken(request.headers, app.config.adminToken)) throw invalidClient("invalid bearer token");
      return { applicationId: null };
    }
    const client = await authenticate(request, params, now);
    // A client_id alone is public: introspection needs a caller that proved who it is (RFC 7662 §2.1).
    if (client.method === "none") throw invalidClient("client authentication is required");
    return { applicationId: client.id };
  }

  app.post(
    "/introspect",
    {
      preHandler,
      schema: {
        tags: ["oauth"],
        operationId: "introspect",
        summary: "Describe a token (RFC 7662).",
        description:
          "Two kinds of caller: a resource server of the platform, with `Authorization: Bearer <APPGRANT_ADMIN_TOKEN>`, " +
          "which may introspect any token; or an application, client-authenticated like the token endpoint, which sees " +
          'only its own tokens (any other token is `{"active": false}`). A token is active while it is unexpired, ' +
          "unrevoked and not rotated, and its installation is active (not suspended). Same body rules as the token endpoint.",
        security: [{ adminToken: [] }, ...clientSecurity],
        body: formOrJson(tokenLookupRequest),
        response: {
          200: {
            ...introspectionSchema,
            "x-response-description": '`{"active": false}` for a token that is not active (or not the caller\'s); otherwise its description.',
            headers: noStoreHeaders,
          },
          ...oauthErrors(invalidRequestResponse),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const { params, token } = tokenRequestParams(request.body);
      const now = clock();
      const { applicationId } = await caller(request, params, now);
      const found = await findToken(store, token, params.get("token_type_hint"));
      const inactive = () => {
        app.metrics.introspection(false);
        return { active: false };
      };
      if (!found || (applicationId !== null && found.record.applicationId !== applicationId)) return inactive();
      const { kind, record } = found;
      const expiresAt = kind === "access_token" ? record.accessExpiresAt : record.refreshExpiresAt;
      // A rotated pair's access token stops working at once; its refresh token is
      // only replayable within the grace period, which is not "active" either.
      if (record.revokedAt !== null || record.rotatedAt !== null || expiresAt <= now) return inactive();
      // A suspended installation's tokens are inactive until it is unsuspended (nothing is revoked).
      if (!record.installationActive) return inactive();
      app.metrics.introspection(true);
      return {
        active: true,
        scope: record.scopes,
        client_id: record.clientId,
        token_type: kind === "access_token" ? "Bearer" : "refresh_token",
        exp: seconds(expiresAt),
        iat: seconds(record.createdAt),
        sub: record.account,
        aud: app.config.audience,
        iss: app.config.issuer,
        installation_id: record.installationId,
        account: record.account,
      };
    },
  );
}
