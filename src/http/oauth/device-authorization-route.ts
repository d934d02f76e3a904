// POST /oauth/device_authorization (RFC 8628 §3.1–3.2): a CLI or agent that cannot
// receive a redirect asks for a device code and a user code. Client-authenticated like
// the token endpoint (a public client sends its client_id alone, §5.6), for applications
// allowed the device code grant. The person types the user code on the platform's
// verification page (APPGRANT_DEVICE_VERIFICATION_URL), which answers through the admin
// API (src/http/admin/device-authorizations.ts); the CLI polls /oauth/token meanwhile.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { findApplicationByClientId } from "../../domain/applications.js";
import { createDeviceAuthorization } from "../../domain/device-authorizations.js";
import type { Authenticate } from "../../oauth/client-auth.js";
import { DEVICE_CODE_GRANT } from "../../oauth/device-authorization.js";
import { invalidClient, invalidScope, OAuthError, unauthorizedClient } from "../../oauth/errors.js";
import { CLIENT_PARAMETERS, readParams, requireValid } from "../../oauth/params.js";
import { parseScopes, requestedScopes } from "../../shared/scopes.js";
import { withQuery } from "../../shared/url.js";
import { prose } from "../openapi.js";
import { clientParameters, clientSecurity, formOrJson, noStore, noStoreHeaders, oauthErrors } from "./responses.js";

// Documentation only (see plugin.ts): the route reads its parameters itself.
const requestSchema = {
  type: "object",
  description: "RFC 8628 §3.1. Unknown parameters are ignored.",
  properties: {
    scope: { type: "string", description: "Space-separated; default all the application's scopes; may not exceed them." },
    ...clientParameters,
  },
} as const;

const responseSchema = {
  type: "object",
  properties: {
    device_code: { type: "string", description: "`agd_…`: the CLI polls /oauth/token with it. Shown once." },
    user_code: { type: "string", description: "`XXXX-XXXX`, for the person to type on the verification page (any case, dash optional)." },
    verification_uri: { type: "string", description: "The platform's verification page (APPGRANT_DEVICE_VERIFICATION_URL)." },
    verification_uri_complete: { type: "string", description: "The same page with `user_code` in its query, e.g. for a QR code." },
    expires_in: { type: "integer", description: "Seconds both codes live (APPGRANT_DEVICE_CODE_LIFETIME, default 600)." },
    interval: { type: "integer", description: "Seconds to wait between polls (APPGRANT_DEVICE_POLL_INTERVAL, default 5)." },
  },
  required: ["device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"],
} as const;

const description = prose(`RFC 8628 §3.1–3.2, for command-line tools and agents that cannot receive a
browser redirect. Client authentication as at the token endpoint; a public client sends its
\`client_id\` alone (§5.6). The application's \`grant_types\` must include
\`urn:ietf:params:oauth:grant-type:device_code\`.

Show the person \`user_code\` and \`verification_uri\` (or \`verification_uri_complete\`);
the platform's page answers through \`/admin/v1/device-authorizations/{user_code}\`. Meanwhile
poll \`POST /oauth/token\` with \`grant_type=urn:ietf:params:oauth:grant-type:device_code\`
and \`device_code\`, waiting \`interval\` seconds between polls: \`authorization_pending\`
until the person answers, \`slow_down\` (add 5 seconds to the interval) for a poll that came
too soon, \`access_denied\` if rejected, \`expired_token\` after \`expires_in\`; once accepted,
one token pair, once.

Answers \`503\` until APPGRANT_DEVICE_VERIFICATION_URL is set.
`);

export function deviceAuthorizationRoute(
  app: FastifyInstance,
  { authenticate, preHandler }: { authenticate: Authenticate; preHandler: preHandlerAsyncHookHandler[] },
): void {
  const { domain, config } = app;
  app.post(
    "/device_authorization",
    {
      preHandler,
      schema: {
        tags: ["oauth"],
        operationId: "deviceAuthorization",
        summary: "Start a device authorization (RFC 8628 §3.1).",
        description,
        security: clientSecurity,
        body: formOrJson(requestSchema),
        response: {
          200: {
            ...responseSchema,
            "x-response-description":
              "The codes. This is the only response that carries the device code: the server stores its SHA-256 hash, " +
              "and an HMAC of the user code.",
            headers: noStoreHeaders,
          },
          ...oauthErrors({
            description: "`invalid_request`, `invalid_scope`, or `unauthorized_client` (the application may not use the device code grant).",
            codes: ["invalid_request", "invalid_scope", "unauthorized_client"],
          }),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const raw = readParams(request.body);
      requireValid(raw, [...CLIENT_PARAMETERS, "scope"]);
      const { verificationUrl, lifetime, interval } = config.device;
      if (verificationUrl === undefined) {
        throw new OAuthError(
          "temporarily_unavailable",
          503,
          "the device authorization endpoint is not configured: set APPGRANT_DEVICE_VERIFICATION_URL",
        );
      }
      const client = await authenticate(request, raw.values, domain.clock());
      if (!client.grantTypes.has(DEVICE_CODE_GRANT)) throw unauthorizedClient("the client is not allowed to use the device code grant");
      const application = await findApplicationByClientId(domain, client.clientId);
      // Deleted between authentication and here: as if it had never existed.
      if (!application) throw invalidClient("client authentication failed", "application deleted meanwhile");
      const scopes = requestedScopes(raw.values.get("scope"), parseScopes(application.scopes));
      if (scopes === null) throw invalidScope("requested scope is not allowed for this client");
      const issued = await createDeviceAuthorization(domain, { applicationId: application.id, scopes, lifetime, interval });
      request.log.info({ clientId: client.clientId, deviceAuthorizationId: issued.deviceAuthorization.id }, "device authorization started");
      return {
        device_code: issued.deviceCode,
        user_code: issued.userCode,
        verification_uri: verificationUrl,
        verification_uri_complete: withQuery(verificationUrl, { user_code: issued.userCode }),
        expires_in: lifetime,
        interval,
      };
    },
  );
}
