// POST /oauth/token: dispatches to the grant type registered under grant_type.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import type { Authenticate } from "../../oauth/client-auth.js";
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from "../../oauth/errors.js";
import type { GrantRegistry } from "../../oauth/grant-type.js";
import { CLIENT_PARAMETERS, readParams, requireValid } from "../../oauth/params.js";
import { errorSchema, noStore } from "./responses.js";
import type { TokenStore } from "../../oauth/token-store.js";
import type { ServerKeys } from "../../crypto/server-keys.js";

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

export interface TokenRouteOptions {
  registry: GrantRegistry;
  store: TokenStore;
  secretKey: ServerKeys;
  authenticate: Authenticate;
  preHandler: preHandlerAsyncHookHandler[];
}

export function tokenRoute(app: FastifyInstance, { registry, store, secretKey, authenticate, preHandler }: TokenRouteOptions): void {
  const { hasher, clock } = app.domain;
  app.post("/token", { preHandler, schema: { response: { 200: tokenSchema, "4xx": errorSchema, "5xx": errorSchema } } }, async (request, reply) => {
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
    const client = await authenticate(request, all, now);
    if (!client.grantTypes.has(grant.name)) throw unauthorizedClient("the client is not allowed to use this grant type");

    const params = new Map(grant.parameters.flatMap((name) => (all.has(name) ? [[name, all.get(name)!] as const] : [])));
    const origin = { requestId: request.id, sourceIp: request.ip };
    return grant.handle({ client, params, now, log: request.log, store, hasher, config: app.config, secretKey, request: origin });
  });
}
