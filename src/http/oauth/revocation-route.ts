// POST /oauth/revoke (RFC 7009). Client-authenticated like the token endpoint. The
// answer is 200 whether or not the token was known, so it reveals nothing; a token
// of another client is left alone. Revoking a refresh token revokes its family;
// revoking an access token revokes its pair (RFC 7009 §2.1 allows both).
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import type { Authenticate } from "../../oauth/client-auth.js";
import { clientSecurity, formOrJson, invalidRequestResponse, noStore, noStoreHeaders, oauthErrors, tokenLookupRequest } from "./responses.js";
import { findToken, tokenRequestParams } from "../../oauth/find-token.js";
import type { RevocationEvent, TokenStore } from "../../oauth/token-store.js";

export function revocationRoute(
  app: FastifyInstance,
  { store, authenticate, preHandler }: { store: TokenStore; authenticate: Authenticate; preHandler: preHandlerAsyncHookHandler[] },
): void {
  const { clock } = app.domain;
  app.post(
    "/revoke",
    {
      preHandler,
      schema: {
        tags: ["oauth"],
        operationId: "revoke",
        summary: "Revoke an access or refresh token (RFC 7009).",
        description:
          "Client-authenticated like the token endpoint, with the same body rules. Revoking a refresh token revokes " +
          "its whole family (every token descended from the same code); revoking an access token revokes its pair. A " +
          "token that is unknown, malformed or issued to another client is left alone, and the answer is the same 200, " +
          "so it reveals nothing.",
        security: clientSecurity,
        body: formOrJson(tokenLookupRequest),
        response: {
          200: { type: "null", description: "Empty body, whether or not the token was known.", headers: noStoreHeaders },
          ...oauthErrors(invalidRequestResponse),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const { params, token } = tokenRequestParams(request.body);
      const now = clock();
      const client = await authenticate(request, params, now);
      const found = await findToken(store, token, params.get("token_type_hint"));
      if (found && found.record.applicationId === client.id) {
        const { record } = found;
        const event: RevocationEvent = {
          type: "token.revoked",
          applicationId: record.applicationId,
          installationId: record.installationId,
          clientId: client.clientId,
          requestId: request.id,
          sourceIp: request.ip,
          data: { token_id: record.id, family_id: record.familyId, token_type: found.kind },
        };
        const revoked =
          found.kind === "refresh_token"
            ? await store.revokeFamily(record.familyId, now, "revoked", event)
            : Number(await store.revokeToken(record.id, now, "revoked", event));
        request.log.info({ tokenId: found.record.id, kind: found.kind, revoked }, "token revoked by its client");
      }
      return reply.code(200).send();
    },
  );
}
