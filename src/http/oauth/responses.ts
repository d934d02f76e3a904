// What the OAuth endpoints answer besides their success bodies: the RFC 6749 §5.2 error
// shape, and the descriptions openapi.yaml gives each error status (@fastify/swagger
// reads `x-response-description` and `headers`; the serialiser reads only the shape).
import type { FastifyReply } from "fastify";

export const errorSchema = {
  type: "object",
  description: "RFC 6749 §5.2. `error_description` never contains internal details.",
  properties: { error: { type: "string" }, error_description: { type: "string" } },
  required: ["error"],
} as const;

/** Response headers of every OAuth answer (see noStore). */
export const noStoreHeaders = {
  "Cache-Control": { type: "string", const: "no-store", description: "Always `no-store` (RFC 6749 §5.1)." },
  Pragma: { type: "string", const: "no-cache", description: "Always `no-cache`." },
} as const;

/** The error schema, documented as answering only `codes` (the serialiser ignores `enum`). */
function oauthError(description: string, codes: readonly string[], headers: Record<string, object> = noStoreHeaders) {
  return {
    ...errorSchema,
    properties: { ...errorSchema.properties, error: { type: "string", enum: codes } },
    "x-response-description": description,
    headers,
  } as const;
}

const retryAfter = (description: string) => ({ type: "integer", description });

/** The error answers of the client-authenticated endpoints, each status with what it means. */
export function oauthErrors(badRequest: { description: string; codes: readonly string[] }) {
  return {
    400: oauthError(badRequest.description, badRequest.codes),
    401: oauthError(
      "`invalid_client`: authentication failed (unknown client, wrong secret, both or no authentication methods, a " +
        "wrong bearer token). Carries `WWW-Authenticate` (`Basic` or `Bearer`, as the request used) when the request " +
        "sent an Authorization header.",
      ["invalid_client"],
      {
        ...noStoreHeaders,
        "WWW-Authenticate": {
          type: "string",
          description: '`Basic realm="appgrant", charset="UTF-8"` (or `Bearer …`), when the request sent an Authorization header.',
        },
      },
    ),
    429: oauthError(
      "`temporarily_unavailable`: a rate limit was reached (requests per IP or per client, or failed client " +
        "authentications, each per APPGRANT_RATE_LIMIT_WINDOW). Resource servers presenting the admin token are not " +
        "limited. Too many failed authentications are refused before any secret is verified.",
      ["temporarily_unavailable"],
      {
        ...noStoreHeaders,
        "Retry-After": retryAfter(
          "Seconds until the window ends. Sent with the per-IP and per-client limits; the refusal after too many " +
            "failed authentications states it only in `error_description`.",
        ),
      },
    ),
    500: oauthError("`server_error`: an unexpected failure; the details go to the server log only.", ["server_error"]),
    503: oauthError(
      "`temporarily_unavailable`: the database could not be reached or did not answer within the configured " +
        "deadlines (APPGRANT_DB_CONNECT_TIMEOUT, APPGRANT_DB_QUERY_TIMEOUT).",
      ["temporarily_unavailable"],
      { ...noStoreHeaders, "Retry-After": retryAfter("Seconds to wait before retrying.") },
    ),
  } as const;
}

export const invalidRequestResponse = {
  description:
    "`invalid_request`: a missing, repeated or malformed parameter (a value that is not text: NUL, an unpaired " +
    "surrogate), or an unsupported content type.",
  codes: ["invalid_request"],
} as const;

/** The client-authentication parameters every client-authenticated request may carry (documentation). */
export const clientParameters = {
  client_id: { type: "string", description: "client_secret_post, a public client, or (optional) private_key_jwt." },
  client_secret: { type: "string", description: "client_secret_post only." },
  client_assertion_type: {
    type: "string",
    enum: ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    description: "private_key_jwt (RFC 7523 §2.2).",
  },
  client_assertion: { type: "string", description: "private_key_jwt: a JWT signed with one of the application's keys." },
} as const;

/** The body of /oauth/revoke and /oauth/introspect (documentation). */
export const tokenLookupRequest = {
  type: "object",
  description: "RFC 7009 §2.1 / RFC 7662 §2.1. Unknown parameters are ignored.",
  properties: {
    token: { type: "string", description: "An access token (`aga_…`), installation access token (`agi_…`) or refresh token (`agr_…`)." },
    token_type_hint: {
      type: "string",
      enum: ["access_token", "refresh_token"],
      description: "Which kind to look up first; only a hint.",
    },
    ...clientParameters,
  },
  required: ["token"],
} as const;

/** The same body schema for both content types the endpoints accept (documentation: see plugin.ts). */
export function formOrJson(schema: object) {
  return { content: { "application/x-www-form-urlencoded": { schema }, "application/json": { schema } } };
}

/** Who may call a client-authenticated endpoint: HTTP Basic, or the credentials in the body (or a public client's id). */
export const clientSecurity: Record<string, string[]>[] = [{ clientSecretBasic: [] }, {}];

/** RFC 6749 §5.1: responses carrying tokens must not be cached; here every OAuth response is so marked. */
export function noStore(reply: FastifyReply): void {
  reply.header("Cache-Control", "no-store").header("Pragma", "no-cache");
}
