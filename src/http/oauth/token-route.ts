// POST /oauth/token: dispatches to the grant type registered under grant_type.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import type { Authenticate } from "../../oauth/client-auth.js";
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from "../../oauth/errors.js";
import type { GrantRegistry } from "../../oauth/grant-type.js";
import { CLIENT_PARAMETERS, readParams, requireValid } from "../../oauth/params.js";
import { clientParameters, clientSecurity, formOrJson, noStore, noStoreHeaders, oauthErrors } from "./responses.js";
import type { OAuthStore } from "../../oauth/token-store.js";
import { prose } from "../openapi.js";
import type { ServerKeys } from "../../crypto/server-keys.js";
import { APPGRANT_ATTR } from "../../shared/tracing.js";
import { requestSpan } from "../tracing.js";

const tokenSchema = {
  type: "object",
  properties: {
    access_token: { type: "string", description: "`aga_…`, or `agi_…` for an installation access token (client_credentials). Shown once." },
    // `enum` documents; the serialiser would write a `const` whatever the value.
    token_type: { type: "string", enum: ["Bearer"] },
    expires_in: {
      type: "integer",
      description: "Seconds until the access token expires (default 28800, 8 h; installation access tokens 3600, 1 h).",
    },
    refresh_token: {
      type: "string",
      description:
        "`agr_…`. Shown once; rotates on every refresh. Issued by authorization_code, refresh_token and device_code, never by client_credentials.",
    },
    scope: { type: "string", description: "Space-separated granted scopes." },
    installation_id: { type: "string" },
  },
  required: ["access_token", "token_type", "expires_in", "scope", "installation_id"],
} as const;

// Documentation only (see plugin.ts): the route reads its parameters itself, each
// grant declaring its own, so that a bad one is an RFC 6749 error.
const authorizationCodeRequest = {
  type: "object",
  title: "authorization_code",
  description: "RFC 6749 §4.1.3. Unknown parameters are ignored.",
  properties: {
    grant_type: { type: "string", const: "authorization_code" },
    code: { type: "string", description: "The installation's code, `agc_…`." },
    redirect_uri: { type: "string", description: "Required, and identical, when the code was bound to a redirect URI." },
    ...clientParameters,
    code_verifier: { type: "string", description: "PKCE (RFC 7636), when the code carries a challenge." },
  },
  required: ["grant_type", "code"],
} as const;

const refreshTokenRequest = {
  type: "object",
  title: "refresh_token",
  description: "RFC 6749 §6. Unknown parameters are ignored.",
  properties: {
    grant_type: { type: "string", const: "refresh_token" },
    refresh_token: { type: "string", description: "`agr_…`." },
    scope: { type: "string", description: "Space-separated; may narrow the granted scopes, never widen them." },
    ...clientParameters,
  },
  required: ["grant_type", "refresh_token"],
} as const;

const clientCredentialsRequest = {
  type: "object",
  title: "client_credentials",
  description:
    "RFC 6749 §4.4: an installation access token (`agi_…`, no refresh token) for one of the client's installations. " +
    "Confidential clients only; private_key_jwt is the recommended client authentication. Unknown parameters are ignored.",
  properties: {
    grant_type: { type: "string", const: "client_credentials" },
    installation_id: { type: "string", description: "An active installation of the authenticated application." },
    scope: { type: "string", description: "Space-separated; may narrow the installation's scopes, never widen them." },
    ...clientParameters,
  },
  required: ["grant_type", "installation_id"],
} as const;

const deviceCodeRequest = {
  type: "object",
  title: "device_code",
  description: "RFC 8628 §3.4: polling for a device authorization (POST /oauth/device_authorization). Unknown parameters are ignored.",
  properties: {
    grant_type: { type: "string", const: "urn:ietf:params:oauth:grant-type:device_code" },
    device_code: { type: "string", description: "`agd_…`." },
    ...clientParameters,
  },
  required: ["grant_type", "device_code"],
} as const;

const tokenRequest = { oneOf: [authorizationCodeRequest, refreshTokenRequest, clientCredentialsRequest, deviceCodeRequest] };

const description = prose(`Accepts \`application/x-www-form-urlencoded\` (RFC 6749) and \`application/json\`; any other
content type is \`invalid_request\`. A parameter sent twice is \`invalid_request\`, an empty
parameter counts as absent, and unknown parameters are ignored.

Client authentication is \`client_secret_basic\` (HTTP Basic with the form-urlencoded
client_id and client_secret, RFC 6749 §2.3.1), \`client_secret_post\` (\`client_id\` and
\`client_secret\` in the body) or \`private_key_jwt\` (RFC 7523 §2.2: \`client_assertion_type=
urn:ietf:params:oauth:client-assertion-type:jwt-bearer\` and \`client_assertion\`, a JWT signed
with one of the application's keys: \`iss\` and \`sub\` the client_id, \`aud\` the issuer or
this endpoint's URL, \`exp\` at most 10 minutes ahead, a single-use \`jti\`; RS256, PS256,
ES256 or EdDSA), exactly one of them. A public client sends only \`client_id\`.

\`client_credentials\` (confidential clients only): an installation access token for
\`installation_id\`, an active installation of the client; \`scope\` may narrow it. No refresh
token: ask again when it expires.

\`authorization_code\`: the code is single-use; presenting a consumed code is
\`invalid_grant\` and revokes every token issued from it. If the code was bound to a
redirect URI, \`redirect_uri\` must carry the identical value.

\`refresh_token\`: a successful refresh revokes the previous access token and rotates the
refresh token. \`scope\` may narrow the granted scopes, never widen them. Presenting a
rotated refresh token again within a short grace window (while its successor is unused)
returns the identical successor pair; after that window it is treated as reuse, revokes
the whole token family and is \`invalid_grant\`.

\`urn:ietf:params:oauth:grant-type:device_code\` (RFC 8628 §3.4–3.5): \`authorization_pending\`
until the person answers on the platform's verification page; \`slow_down\` for a poll that came
sooner than the interval (which then grows by 5 seconds); \`access_denied\` once rejected;
\`expired_token\` once expired; once accepted, one token pair (with a refresh token, for public
clients too), to exactly one poll: the device code is then used, and \`invalid_grant\`.

Every response carries \`Cache-Control: no-store\` and \`Pragma: no-cache\`.
`);

export interface TokenRouteOptions {
  registry: GrantRegistry<OAuthStore>;
  store: OAuthStore;
  secretKey: ServerKeys;
  authenticate: Authenticate;
  preHandler: preHandlerAsyncHookHandler[];
}

export function tokenRoute(app: FastifyInstance, { registry, store, secretKey, authenticate, preHandler }: TokenRouteOptions): void {
  const { hasher, clock } = app.domain;
  app.post(
    "/token",
    {
      preHandler,
      schema: {
        tags: ["oauth"],
        operationId: "token",
        summary: "Exchange an authorization code, refresh tokens, or mint an installation token (RFC 6749 §4.1.3, §6, §4.4).",
        description,
        security: clientSecurity,
        body: formOrJson(tokenRequest),
        response: {
          200: {
            ...tokenSchema,
            "x-response-description":
              "A new access token, with a refresh token for the grants that issue one (`authorization_code`, " +
              "`refresh_token`, the device code grant), or alone (`client_credentials`). This is the only response that " +
              "ever carries them: the server stores only their SHA-256 hashes.",
            headers: noStoreHeaders,
          },
          ...oauthErrors({
            description:
              "The request, grant, scope or grant type is not acceptable (RFC 6749 §5.2): `invalid_request`, " +
              "`invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`; or, for the device code " +
              "grant (RFC 8628 §3.5), `authorization_pending`, `slow_down`, `access_denied`, `expired_token`.",
            codes: [
              "invalid_request",
              "invalid_grant",
              "unauthorized_client",
              "unsupported_grant_type",
              "invalid_scope",
              "authorization_pending",
              "slow_down",
              "access_denied",
              "expired_token",
            ],
          }),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const raw = readParams(request.body);
      requireValid(raw, ["grant_type"]);
      const all = raw.values;
      const grantTypeName = all.get("grant_type");
      if (grantTypeName === undefined) throw invalidRequest("grant_type is required");
      const grant = registry.get(grantTypeName);
      if (!grant) throw unsupportedGrantType();
      requireValid(raw, [...CLIENT_PARAMETERS, ...grant.parameters]);
      // Cheap checks first: a malformed request never costs a secret verification.
      for (const name of grant.required) if (!all.has(name)) throw invalidRequest(`${name} is required`);

      const now = clock();
      const span = requestSpan(request);
      span?.setAttribute(APPGRANT_ATTR.grantType, grant.name);
      const client = await authenticate(request, all, now);
      // Only once authenticated: a claimed client_id is the caller's text.
      span?.setAttribute(APPGRANT_ATTR.clientId, client.clientId);
      if (!client.grantTypes.has(grant.name)) throw unauthorizedClient("the client is not allowed to use this grant type");
      if (grant.confidentialOnly && client.method === "none") {
        throw unauthorizedClient(`${grant.name} needs a confidential client that authenticates`);
      }

      const params = new Map(grant.parameters.flatMap((name) => (all.has(name) ? [[name, all.get(name)!] as const] : [])));
      const origin = { requestId: request.id, sourceIp: request.ip };
      return grant.handle({
        client,
        params,
        now,
        log: request.log,
        store,
        hasher,
        config: app.config,
        secretKey,
        request: origin,
        metrics: app.metrics,
      });
    },
  );
}
