// Idempotent refresh: the successor of a refresh token is *derived*, not random.
//
//   successor = HMAC-SHA256(server key, purpose || presented refresh token)
//
// so a client whose refresh response was lost can retry with the same refresh token
// and be given the identical pair again, while nothing usable is stored: the
// database keeps only SHA-256 hashes, and deriving needs both the server key (from
// configuration, never in the database) and the plaintext parent refresh token
// (which only the client holds). A database leak therefore yields nothing; a leaked
// key alone yields nothing either. Encryption-at-rest of the successor would have
// needed a stored ciphertext and a decryption on the retry path for the same result.
// The parent's 256 random bits make each derived token as unpredictable as a random one.
// The selector (the successor row's id) is not derived: it is chosen at the rotation and
// read back from the successor row on a retry.
//
// With several server keys (rotation), a rotation derives under the first; a retry is
// checked against the pair under every key, so a rotation made just before the new
// key went first is still recognised within the grace period.
import { createHmac } from "node:crypto";
import type { ServerKeys } from "../crypto/server-keys.js";
import { formatCredential } from "../crypto/tokens.js";

function derive(key: string, purpose: string, parentRefreshToken: string): Buffer {
  return createHmac("sha256", key).update(`appgrant/v1/${purpose}\0`).update(parentRefreshToken).digest();
}

export function successorTokens(key: string, parentRefreshToken: string, successorId: string): { accessToken: string; refreshToken: string } {
  return {
    accessToken: formatCredential("accessToken", derive(key, "successor-access-token", parentRefreshToken), successorId),
    refreshToken: formatCredential("refreshToken", derive(key, "successor-refresh-token", parentRefreshToken), successorId),
  };
}

/** The successor pair (of row `successorId`) under each server key, the current key's first. */
export function successorCandidates(
  keys: ServerKeys,
  parentRefreshToken: string,
  successorId: string,
): { accessToken: string; refreshToken: string }[] {
  return keys.all.map((key) => successorTokens(key, parentRefreshToken, successorId));
}
