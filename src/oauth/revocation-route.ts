// POST /oauth/revoke (RFC 7009). Client-authenticated like the token endpoint. The
// answer is 200 whether or not the token was known, so it reveals nothing; a token
// of another client is left alone. Revoking a refresh token revokes its family;
// revoking an access token revokes its pair (RFC 7009 §2.1 allows both).
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { isWellFormed, sha256 } from "../crypto/tokens.js";
import type { Authenticate } from "./client-auth.js";
import { invalidRequest } from "./errors.js";
import { CLIENT_PARAMETERS, readParams, requireValid } from "./params.js";
import { errorSchema, noStore } from "./responses.js";
import type { IntrospectionRecord, TokenStore } from "./token-store.js";

/** Finds a token by value, trying the hinted kind first (the hint is only a hint). */
export async function findToken(
  store: TokenStore,
  token: string,
  hint: string | undefined,
): Promise<{ kind: "access_token" | "refresh_token"; record: IntrospectionRecord } | null> {
  const order = hint === "refresh_token" ? (["refresh_token", "access_token"] as const) : (["access_token", "refresh_token"] as const);
  for (const kind of order) {
    if (kind === "access_token" && isWellFormed("accessToken", token)) {
      const record = await store.findByAccessHash(sha256(token));
      if (record) return { kind, record };
    }
    if (kind === "refresh_token" && isWellFormed("refreshToken", token)) {
      const record = await store.findByRefreshHash(sha256(token));
      if (record) return { kind, record };
    }
  }
  return null;
}

export function revocationRoute(
  app: FastifyInstance,
  { store, authenticate, preHandler }: { store: TokenStore; authenticate: Authenticate; preHandler: preHandlerAsyncHookHandler[] },
): void {
  const { clock } = app.domain;
  app.post(
    "/revoke",
    { preHandler, schema: { response: { 200: { type: "null" }, "4xx": errorSchema, "5xx": errorSchema } } },
    async (request, reply) => {
      noStore(reply);
      const raw = readParams(request.body);
      requireValid(raw, ["token", "token_type_hint", ...CLIENT_PARAMETERS]);
      const params = raw.values;
      const token = params.get("token");
      if (token === undefined) throw invalidRequest("token is required");
      const now = clock();
      const client = await authenticate(request, params, now);
      const found = await findToken(store, token, params.get("token_type_hint"));
      if (found && found.record.applicationId === client.id) {
        const revoked =
          found.kind === "refresh_token"
            ? await store.revokeFamily(found.record.familyId, now, "revoked")
            : Number(await store.revokeToken(found.record.id, now, "revoked"));
        request.log.info({ tokenId: found.record.id, kind: found.kind, revoked }, "token revoked by its client");
      }
      return reply.code(200).send();
    },
  );
}
