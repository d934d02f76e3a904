// grant_type=authorization_code (RFC 6749 §4.1.3).
import { isWellFormed, sha256 } from "../../crypto/tokens.js";
import { installationInactive, invalidGrant, SCOPE_RACE_ATTEMPTS } from "../errors.js";
import type { GrantContext, GrantType } from "../grant-type.js";
import { newTokenId, randomPair, tokenResponse, tokenRow } from "../issue-token-pair.js";
import { checkCodeVerifier } from "../pkce.js";
import type { CodeRecord, RevocationEvent } from "../token-store.js";

/** token.code_reused: the second use of a code, recorded with the revocation of what it produced. */
function codeReused(ctx: GrantContext, code: CodeRecord): RevocationEvent {
  return {
    type: "token.code_reused",
    applicationId: code.applicationId,
    installationId: code.installationId,
    clientId: ctx.client.clientId,
    ...ctx.request,
    data: { code_id: code.id, family_id: code.id },
  };
}

const INVALID = "authorization code is invalid";

function checkUsable(ctx: GrantContext, code: CodeRecord): void {
  if (code.revokedAt !== null) throw invalidGrant("authorization code has been revoked");
  if (code.expiresAt <= ctx.now) throw invalidGrant("authorization code has expired");
  if (!code.installationActive) throw installationInactive(code);
}

/** The second use of a code: what it produced is revoked (RFC 6749 §10.5). */
async function reused(ctx: GrantContext, code: CodeRecord, how: string): Promise<never> {
  const revoked = await ctx.store.revokeFamily(code.id, ctx.now, "code_reused", codeReused(ctx, code));
  ctx.metrics?.reuseDetected("code");
  ctx.log.warn({ codeId: code.id, revoked }, `authorization code ${how}: its tokens are revoked`);
  throw invalidGrant("authorization code has already been used");
}

export const authorizationCode: GrantType = {
  name: "authorization_code",
  parameters: ["code", "redirect_uri", "code_verifier"],
  required: ["code"],

  async handle(ctx) {
    const code = ctx.params.get("code")!;
    if (!isWellFormed("code", code)) throw invalidGrant(INVALID, "malformed code");
    const hash = sha256(code);
    let stored = await ctx.store.findCodeByHash(hash);
    // A code of another client is reported exactly like an unknown one.
    if (!stored || stored.applicationId !== ctx.client.id) throw invalidGrant(INVALID, stored ? "code of another client" : "unknown code");
    if (stored.consumedAt !== null) return reused(ctx, stored, "reused");
    checkUsable(ctx, stored);
    if (stored.redirectUri !== null && ctx.params.get("redirect_uri") !== stored.redirectUri) {
      throw invalidGrant("redirect_uri does not match the one the code was issued for");
    }
    // RFC 9700 §2.1.1: a public client cannot prove it started the flow except through PKCE.
    if (ctx.client.method === "none" && stored.codeChallenge === null) {
      throw invalidGrant("a public client can only exchange a code issued with a PKCE code_challenge");
    }
    checkCodeVerifier(stored, ctx.params.get("code_verifier"));

    for (let attempt = 1; ; attempt++) {
      const id = newTokenId(ctx.now);
      const pair = randomPair(id);
      const row = tokenRow(ctx, id, pair, {
        applicationId: stored.applicationId,
        installationId: stored.installationId,
        clientId: ctx.client.clientId,
        account: stored.account,
        codeId: stored.id,
        familyId: stored.id,
        generation: 1,
        parentId: null,
        scopes: stored.scopes,
      });
      if (await ctx.store.exchangeCode(stored.id, ctx.now, row)) {
        ctx.log.info({ codeId: stored.id, installationId: stored.installationId, tokenId: row.id }, "authorization code exchanged");
        return tokenResponse(pair, row, ctx.now);
      }
      // What stopped the exchange decides the answer: another request consumed the code
      // (the second use, with the same consequence as above), or it was revoked, the
      // installation suspended or uninstalled, or the scopes narrowed (then it is retried).
      const current = await ctx.store.findCodeByHash(hash);
      if (!current || current.consumedAt !== null) return reused(ctx, stored, "used concurrently");
      if (attempt >= SCOPE_RACE_ATTEMPTS) throw invalidGrant("the installation's scopes changed during the exchange; retry");
      checkUsable(ctx, current);
      stored = current;
    }
  },
};
