// RFC 8414 metadata, built from the grant registry, the endpoints and configuration
// (never a hand-kept copy), so a client library given only the issuer URL can
// discover and use the server. The metadata says what the server supports: until
// APPGRANT_DEVICE_VERIFICATION_URL is set, /oauth/device_authorization answers 503,
// so neither it nor the device grant is advertised (the token endpoint still serves
// the grant: device codes issued before a restart without the URL can finish).
import type { FastifyInstance } from "fastify";
import { scopesInUse } from "../../domain/applications.js";
import { ASSERTION_ALGORITHMS } from "../../oauth/client-assertion.js";
import { AUTH_METHODS } from "../../oauth/client-auth.js";
import { DEVICE_CODE_GRANT } from "../../oauth/device-authorization.js";
import type { GrantRegistry } from "../../oauth/grant-type.js";
import { PKCE_METHODS } from "../../oauth/pkce.js";

const stringArray = { type: "array", items: { type: "string" } } as const;
const metadataSchema = {
  type: "object",
  description: "RFC 8414 §2.",
  properties: {
    issuer: { type: "string" },
    authorization_endpoint: { type: "string" },
    token_endpoint: { type: "string" },
    revocation_endpoint: { type: "string" },
    introspection_endpoint: { type: "string" },
    device_authorization_endpoint: { type: "string", description: "RFC 8628 §4; only when the device flow is configured." },
    response_types_supported: stringArray,
    response_modes_supported: stringArray,
    grant_types_supported: stringArray,
    token_endpoint_auth_methods_supported: stringArray,
    token_endpoint_auth_signing_alg_values_supported: stringArray,
    revocation_endpoint_auth_methods_supported: stringArray,
    revocation_endpoint_auth_signing_alg_values_supported: stringArray,
    introspection_endpoint_auth_methods_supported: stringArray,
    introspection_endpoint_auth_signing_alg_values_supported: stringArray,
    code_challenge_methods_supported: stringArray,
    scopes_supported: stringArray,
    authorization_response_iss_parameter_supported: { type: "boolean" },
  },
} as const;

export function discoveryRoute(app: FastifyInstance, registry: GrantRegistry): void {
  const { issuer } = app.config;
  const schema = {
    tags: ["discovery"],
    operationId: "getMetadata",
    summary: "Authorization server metadata (RFC 8414).",
    description:
      "Built from the registered grant types, the endpoints and the configuration, so a client library given only the " +
      "issuer URL can discover and use the server. `scopes_supported` is APPGRANT_SCOPES, or else the union of the " +
      "applications' scopes. The device flow (`device_authorization_endpoint`, and the device code grant in " +
      "`grant_types_supported`) is listed only while APPGRANT_DEVICE_VERIFICATION_URL is set.",
    security: [],
    response: {
      200: {
        ...metadataSchema,
        "x-response-description": "The metadata.",
        headers: { "Cache-Control": { type: "string", description: "`public, max-age=300`" } },
      },
    },
  };
  const deviceFlow = app.config.device.verificationUrl !== undefined;
  const grantTypes = registry.names().filter((name) => deviceFlow || name !== DEVICE_CODE_GRANT);
  app.get("/.well-known/oauth-authorization-server", { schema }, async (_request, reply) => {
    const scopes = app.config.scopes ?? (await scopesInUse(app.domain));
    reply.header("Cache-Control", "public, max-age=300");
    return {
      issuer,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      token_endpoint: `${issuer}/oauth/token`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      ...(deviceFlow ? { device_authorization_endpoint: `${issuer}/oauth/device_authorization` } : {}),
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      grant_types_supported: grantTypes,
      token_endpoint_auth_methods_supported: [...AUTH_METHODS],
      // private_key_jwt's algorithms (asymmetric only: client_secret_jwt is not offered).
      token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
      revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      // Resource servers may also present the admin token as a Bearer token.
      introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((method) => method !== "none"),
      introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      code_challenge_methods_supported: [...PKCE_METHODS],
      scopes_supported: scopes,
      authorization_response_iss_parameter_supported: true,
    };
  });
}
