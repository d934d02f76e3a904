// PKCE (RFC 7636) with S256 only, as RFC 9700 §2.1.1 recommends.
import { createHash } from "node:crypto";
import { safeEqual } from "../crypto/tokens.js";
import { invalidGrant, invalidRequest } from "./errors.js";

export const PKCE_METHODS = ["S256"] as const;

/** code_verifier = 43*128unreserved (RFC 7636 §4.1) */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function s256(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

/**
 * A code issued with a challenge needs the matching verifier; a verifier sent for a
 * code issued without one is refused too, so an attacker cannot downgrade a flow
 * (RFC 9700 §2.1.1).
 */
export function checkCodeVerifier(code: { codeChallenge: string | null; codeChallengeMethod: string | null }, verifier: string | undefined): void {
  if (code.codeChallenge === null) {
    if (verifier !== undefined) throw invalidGrant("code_verifier sent for a code issued without a code_challenge");
    return;
  }
  if (verifier === undefined) throw invalidGrant("code_verifier is required for this code");
  if (!VERIFIER.test(verifier)) throw invalidRequest("code_verifier must be 43 to 128 unreserved characters");
  if (code.codeChallengeMethod !== "S256" || !safeEqual(s256(verifier), code.codeChallenge)) {
    throw invalidGrant("code_verifier does not match the code_challenge");
  }
}
