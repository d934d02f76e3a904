// Building what a grant issues, the row to store (hashes only) and the response to send:
// a token pair (access and refresh token), or an access token alone.
import { generateCredential, sha256 } from "../crypto/tokens.js";
import { addSeconds } from "../shared/time.js";
import { newId } from "../shared/ids.js";
import type { GrantContext, TokenResponse } from "./grant-type.js";
import type { NewToken } from "./token-store.js";

export interface PlainPair {
  accessToken: string;
  refreshToken: string;
}

/** A new token row's id: the selector its tokens carry (a UUIDv7, so the row's indexes grow at their end). */
export function newTokenId(now: Date): string {
  return newId(now.getTime());
}

/** A random pair for the row `id`. */
export function randomPair(id: string): PlainPair {
  return { accessToken: generateCredential("accessToken", id), refreshToken: generateCredential("refreshToken", id) };
}

export function tokenRow(
  ctx: Pick<GrantContext, "now" | "config">,
  id: string,
  pair: PlainPair,
  fields: Pick<NewToken, "applicationId" | "installationId" | "clientId" | "account" | "codeId" | "familyId" | "generation" | "parentId" | "scopes">,
): NewToken {
  return {
    id,
    accessTokenHash: sha256(pair.accessToken),
    refreshTokenHash: sha256(pair.refreshToken),
    createdAt: ctx.now,
    accessExpiresAt: addSeconds(ctx.now, ctx.config.accessTokenLifetime),
    refreshExpiresAt: addSeconds(ctx.now, ctx.config.refreshTokenLifetime),
    ...fields,
  };
}

export function tokenResponse(pair: PlainPair, row: Pick<NewToken, "scopes" | "accessExpiresAt" | "installationId">, now: Date): TokenResponse {
  return {
    access_token: pair.accessToken,
    token_type: "Bearer",
    expires_in: Math.max(0, Math.floor((row.accessExpiresAt.getTime() - now.getTime()) / 1000)),
    refresh_token: pair.refreshToken,
    scope: row.scopes,
    installation_id: row.installationId,
  };
}

/**
 * An access token issued alone (no refresh token: an installation access token): a row of
 * its own family, purged once the access token has expired.
 */
export function accessTokenRow(
  now: Date,
  id: string,
  accessToken: string,
  lifetime: number,
  fields: Pick<NewToken, "applicationId" | "installationId" | "clientId" | "account" | "scopes">,
): NewToken {
  const expiresAt = addSeconds(now, lifetime);
  return {
    id,
    accessTokenHash: sha256(accessToken),
    refreshTokenHash: null,
    codeId: null,
    familyId: id,
    generation: 1,
    parentId: null,
    createdAt: now,
    accessExpiresAt: expiresAt,
    refreshExpiresAt: expiresAt,
    ...fields,
  };
}
