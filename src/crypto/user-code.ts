// The user code of a device authorization (RFC 8628 §6.1): what a person reads off a
// terminal and types on the platform's verification page. Eight characters of
// Crockford's base32 (no I, L, O or U: nothing to confuse), 2^40 codes, shown
// XXXX-XXXX; typed in any case, with or without the dash, O read as 0 and I or L as 1.
// 2^40 is few enough that a plain hash could be inverted by enumeration, so only a
// keyed hash (HMAC under the server key) is stored.
import { createHmac, randomInt } from "node:crypto";
import type { ServerKeys } from "./server-keys.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const USER_CODE_LENGTH = 8;
const PURPOSE = "appgrant device user code";

/** A fresh user code, as shown: XXXX-XXXX. */
export function generateUserCode(): string {
  let code = "";
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The canonical form of what a person typed (8 alphabet characters), or null when it cannot be a user code. */
export function normalizeUserCode(input: string): string | null {
  if (input.length > 40) return null;
  const code = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (code.length !== USER_CODE_LENGTH) return null;
  for (const ch of code) if (!ALPHABET.includes(ch)) return null;
  return code;
}

function hmac(key: string, code: string): string {
  return createHmac("sha256", key).update(`${PURPOSE}\0${code}`).digest("hex");
}

/** The stored form of a (normalised) user code, under the current server key. */
export function userCodeHash(keys: ServerKeys, code: string): string {
  return hmac(keys.current, code);
}

/** Its hash under every server key, current first: a code issued before a key rotation is still found. */
export function userCodeHashes(keys: ServerKeys, code: string): string[] {
  return keys.all.map((key) => hmac(key, code));
}
