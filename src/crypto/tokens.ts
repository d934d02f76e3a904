// Opaque credentials in the shape GitHub made standard: a typed prefix, 256 random
// bits in base62, and a CRC32 checksum, so secret scanners can recognise a leaked
// appgrant credential offline and tell its kind, and a typo is caught before any
// database lookup. Only SHA-256 hashes of codes and tokens are ever stored.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";

export const PREFIXES = {
  accessToken: "aga_",
  /** An installation access token (client_credentials, the GitHub-compatible mint): an access token alone. */
  installationToken: "agi_",
  refreshToken: "agr_",
  code: "agc_",
  /** A device code (RFC 8628): the CLI's handle on its device authorization. */
  deviceCode: "agd_",
  clientSecret: "ags_",
  webhookSecret: "agw_",
} as const;

export type CredentialKind = keyof typeof PREFIXES;

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 43; // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6; // ceil(32 / log2(62))

/**
 * The last `length` base62 digits of `bytes` read as one big-endian number. Schoolbook
 * division by 62 on 16-bit limbs (8-bit for an odd length): ~4× faster than BigInt, and
 * it runs three times per token issued.
 */
function base62(bytes: Uint8Array, length: number): string {
  const even = bytes.length % 2 === 0;
  const limbs = new Uint16Array(even ? bytes.length / 2 : bytes.length);
  if (even) for (let j = 0; j < limbs.length; j++) limbs[j] = (bytes[2 * j]! << 8) | bytes[2 * j + 1]!;
  else limbs.set(bytes);
  const base = even ? 65536 : 256;
  let out = "";
  let first = 0; // limbs before it are zero
  for (let i = 0; i < length; i++) {
    while (first < limbs.length && limbs[first] === 0) first++;
    let remainder = 0;
    for (let j = first; j < limbs.length; j++) {
      const value = remainder * base + limbs[j]!;
      const quotient = Math.floor(value / 62);
      limbs[j] = quotient;
      remainder = value - quotient * 62;
    }
    out = ALPHABET[remainder] + out;
  }
  return out;
}

function checksum(prefixAndBody: string): string {
  const value = crc32(prefixAndBody) >>> 0;
  const bytes = new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
  return base62(bytes, CHECKSUM_LENGTH);
}

/** Builds a credential of `kind` from 32 bytes of key material (random, or derived — see rotation). */
export function formatCredential(kind: CredentialKind, material: Uint8Array): string {
  if (material.length !== 32) throw new Error("credential material must be 32 bytes");
  const head = PREFIXES[kind] + base62(material, BODY_LENGTH);
  return head + checksum(head);
}

export function generateCredential(kind: CredentialKind): string {
  return formatCredential(kind, randomBytes(32));
}

/** True when `value` has the shape and a valid checksum of a credential of `kind`. */
export function isWellFormed(kind: CredentialKind, value: string): boolean {
  const prefix = PREFIXES[kind];
  if (value.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH || !value.startsWith(prefix)) return false;
  const head = value.slice(0, -CHECKSUM_LENGTH);
  if (!/^[0-9A-Za-z]+$/.test(value.slice(prefix.length))) return false;
  return checksum(head) === value.slice(-CHECKSUM_LENGTH);
}

/** SHA-256 hex: how codes and tokens are stored and looked up (through a unique index). */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * Constant-time string equality. Both sides are hashed first so the comparison
 * neither leaks the length nor needs equal-length inputs.
 */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** A public, non-secret identifier (client_id): 20 base62 characters. */
export function generateClientId(): string {
  return base62(randomBytes(16), 20);
}
