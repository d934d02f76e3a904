// grant_type=refresh_token (RFC 6749 §6) with rotation, reuse detection (RFC 9700
// §4.14.2) and idempotent retry within a grace period.
import { hashesEqual, isWellFormed, sha256 } from "../../crypto/tokens.js";
import { formatScopes, parseScopes, scopesOutside } from "../../shared/scopes.js";
import { installationInactive, invalidGrant, invalidScope, SCOPE_RACE_ATTEMPTS } from "../errors.js";
import type { GrantContext, GrantType, TokenResponse } from "../grant-type.js";
import { tokenLookup } from "../find-token.js";
import { newTokenId, tokenResponse, tokenRow } from "../issue-token-pair.js";
import { successorCandidates, successorTokens } from "../successor.js";
import type { TokenRecord } from "../token-store.js";

const INVALID = "refresh token is invalid";

function requestedScopes(ctx: GrantContext, token: TokenRecord): string {
  const requested = ctx.params.get("scope");
  if (requested === undefined) return token.scopes;
  const scopes = parseScopes(requested.trim().replace(/ +/g, " "));
  if (scopes.length === 0 || scopesOutside(scopes, parseScopes(token.scopes)).length > 0) {
    throw invalidScope("requested scope exceeds the scope originally granted");
  }
  return formatScopes(scopes);
}

/**
 * The parent was already rotated. Within the grace period, and while the successor
 * is untouched, this is a retry of a lost response: answer with the same successor.
 * Otherwise it is reuse of a rotated token: revoke the whole family.
 */
async function replayOrRevoke(ctx: GrantContext, parent: TokenRecord, presented: string): Promise<TokenResponse> {
  const grace = ctx.config.refreshGracePeriod * 1000;
  const successor = await ctx.store.findSuccessor(parent.id);
  if (successor && parent.rotatedAt && grace > 0 && ctx.now.getTime() - parent.rotatedAt.getTime() < grace) {
    const untouched = successor.rotatedAt === null && successor.revokedAt === null && successor.accessExpiresAt > ctx.now;
    // Derived under whichever server key was first at the rotation; none matches only if that key is gone.
    const pair = successorCandidates(ctx.secretKey, presented, successor.id).find(
      (candidate) =>
        hashesEqual(successor.refreshTokenHash, sha256(candidate.refreshToken)) &&
        hashesEqual(successor.accessTokenHash, sha256(candidate.accessToken)),
    );
    if (untouched && pair) {
      ctx.log.info({ tokenId: parent.id, successorId: successor.id }, "refresh retried within the grace period: same successor returned");
      ctx.metrics?.refreshReplay();
      return tokenResponse(pair, successor, ctx.now);
    }
  }
  const revoked = await ctx.store.revokeFamily(parent.familyId, ctx.now, "refresh_reused", {
    type: "token.refresh_reused",
    applicationId: parent.applicationId,
    installationId: parent.installationId,
    clientId: ctx.client.clientId,
    ...ctx.request,
    data: { token_id: parent.id, family_id: parent.familyId, generation: parent.generation },
  });
  ctx.log.warn({ tokenId: parent.id, familyId: parent.familyId, revoked }, "rotated refresh token reused: token family revoked");
  ctx.metrics?.reuseDetected("refresh_token");
  throw invalidGrant("refresh token has already been used");
}

export const refreshToken: GrantType = {
  name: "refresh_token",
  parameters: ["refresh_token", "scope"],
  required: ["refresh_token"],

  async handle(ctx) {
    const presented = ctx.params.get("refresh_token")!;
    if (!isWellFormed("refreshToken", presented)) throw invalidGrant(INVALID, "malformed refresh token");
    const lookup = tokenLookup("refreshToken", presented);
    let token = await ctx.store.findTokenByRefresh(lookup);
    if (!token || token.applicationId !== ctx.client.id) throw invalidGrant(INVALID, token ? "token of another client" : "unknown refresh token");
    for (let attempt = 1; ; attempt++) {
      if (token.revokedAt !== null) throw invalidGrant("refresh token has been revoked");
      if (!token.installationActive) throw installationInactive(token);
      if (token.rotatedAt !== null) return replayOrRevoke(ctx, token, presented);
      if (token.refreshExpiresAt <= ctx.now) throw invalidGrant("refresh token has expired");

      const scopes = requestedScopes(ctx, token);
      const id = newTokenId(ctx.now);
      const pair = successorTokens(ctx.secretKey.current, presented, id);
      const row = tokenRow(ctx, id, pair, {
        applicationId: token.applicationId,
        installationId: token.installationId,
        clientId: token.clientId,
        account: token.account,
        codeId: token.codeId,
        familyId: token.familyId,
        generation: token.generation + 1,
        parentId: token.id,
        scopes,
      });
      if (await ctx.store.rotate(token.id, ctx.now, row, token.scopes)) {
        ctx.log.info({ tokenId: token.id, successorId: row.id, familyId: token.familyId }, "refresh token rotated");
        return tokenResponse(pair, row, ctx.now);
      }
      // Lost a race: another request rotated it, or it was revoked, its installation
      // suspended or uninstalled, or its scopes narrowed, between our read and our write.
      // Read again: the checks above say which (a narrowed token is tried again, with the
      // requested scope checked against what it has now).
      const current = await ctx.store.findTokenByRefresh(lookup);
      if (!current || current.revokedAt !== null) throw invalidGrant("refresh token has been revoked");
      if (current.rotatedAt === null && current.installationActive && current.refreshExpiresAt > ctx.now && attempt >= SCOPE_RACE_ATTEMPTS) {
        throw invalidGrant("the token's scopes changed during the refresh; retry");
      }
      token = current;
    }
  },
};
