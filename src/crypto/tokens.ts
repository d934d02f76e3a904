// Opaque credentials in the shape GitHub made standard: a typed prefix, 256 random
// bits in base62, and a CRC32 checksum, so secret scanners can recognise a leaked
// appgrant credential offline and tell its kind, and a typo is caught before any
// database lookup. Only SHA-256 hashes of codes and tokens are ever stored.
//
// Access and refresh tokens also carry a selector: their row's id (a UUIDv7, 22 base62
// digits) before the 256 secret bits. The server finds the row by its primary key and
// compares the SHA-256 of the whole token with the stored one in constant time, so a
// token row needs no index of random hashes: inserts append to time-ordered indexes
// only (the split-token pattern). The id says when the token was issued, nothing more.
// Tokens issued before the selector (no selector, 43 digits) are still accepted: their
// hashes were moved to LegacyTokenHash, which nothing new is written to.
import { createHash, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";
import { uuidText } from "../shared/ids.js";
import { randomBytesPooled } from "../shared/random.js";

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
const SELECTOR_LENGTH = 22; // ceil(128 / log2(62)): a UUID
const CHECKSUM_LENGTH = 6; // ceil(32 / log2(62))

/** 62^5 (< 2^30): base62 digits are taken five at a time, one pass over the limbs for five. */
const FIVE_DIGITS = 62 ** 5;

/**
 * The last `length` base62 digits of `bytes` read as one big-endian number. Schoolbook
 * division by 62^5 on 16-bit limbs (8-bit for an odd length; remainder × limb base stays
 * below 2^53), five digits per pass: ~20× faster than BigInt, and it runs for every
 * token issued.
 */
function base62(bytes: Uint8Array, length: number): string {
  const even = bytes.length % 2 === 0;
  const limbs = new Uint16Array(even ? bytes.length / 2 : bytes.length);
  if (even) for (let j = 0; j < limbs.length; j++) limbs[j] = (bytes[2 * j]! << 8) | bytes[2 * j + 1]!;
  else limbs.set(bytes);
  const base = even ? 65536 : 256;
  const digits = new Array<string>(length);
  let first = 0; // limbs before it are zero
  for (let i = length; i > 0; ) {
    while (first < limbs.length && limbs[first] === 0) first++;
    let remainder = 0;
    for (let j = first; j < limbs.length; j++) {
      const value = remainder * base + limbs[j]!;
      const quotient = Math.floor(value / FIVE_DIGITS);
      limbs[j] = quotient;
      remainder = value - quotient * FIVE_DIGITS;
    }
    for (let k = 0; k < 5 && i > 0; k++) {
      const quotient = Math.floor(remainder / 62);
      digits[--i] = ALPHABET[remainder - quotient * 62]!;
      remainder = quotient;
    }
  }
  return digits.join("");
}

function checksum(prefixAndBody: string): string {
  const value = crc32(prefixAndBody) >>> 0;
  const bytes = new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
  return base62(bytes, CHECKSUM_LENGTH);
}

/**
 * Builds a credential of `kind` from 32 bytes of key material (random, or derived — see
 * rotation) and, for a token, the selector: its row's id (a UUID).
 */
export function formatCredential(kind: CredentialKind, material: Uint8Array, selector?: string): string {
  if (material.length !== 32) throw new Error("credential material must be 32 bytes");
  let head = PREFIXES[kind];
  if (selector !== undefined) {
    if (!UUID.test(selector)) throw new Error("a selector is a UUID");
    head += base62(Buffer.from(selector.replaceAll("-", ""), "hex"), SELECTOR_LENGTH);
  }
  head += base62(material, BODY_LENGTH);
  return head + checksum(head);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16 bytes whose SELECTOR_LENGTH base62 digits `digits` are, or null if they exceed 128 bits. */
function decode128(digits: string): Buffer | null {
  const limbs = new Uint16Array(8); // big-endian 16-bit limbs
  for (let i = 0; i < digits.length; i++) {
    let carry = ALPHABET.indexOf(digits[i]!);
    for (let j = limbs.length - 1; j >= 0; j--) {
      const value = limbs[j]! * 62 + carry;
      limbs[j] = value & 0xffff;
      carry = Math.floor(value / 65536);
    }
    if (carry !== 0) return null;
  }
  const out = Buffer.alloc(16);
  for (let j = 0; j < limbs.length; j++) out.writeUInt16BE(limbs[j]!, 2 * j);
  return out;
}

/**
 * The selector (row id) a well-formed token carries, or null for a credential without one
 * (a token issued before selectors, or any other kind). Call after isWellFormed.
 */
export function credentialSelector(kind: CredentialKind, value: string): string | null {
  const prefix = PREFIXES[kind];
  if (value.length !== prefix.length + SELECTOR_LENGTH + BODY_LENGTH + CHECKSUM_LENGTH) return null;
  const bytes = decode128(value.slice(prefix.length, prefix.length + SELECTOR_LENGTH));
  return bytes === null ? null : uuidText(bytes);
}

export function generateCredential(kind: CredentialKind, selector?: string): string {
  return formatCredential(kind, randomBytesPooled(32), selector);
}

/** True when `value` has the shape and a valid checksum of a credential of `kind` (with or without a selector). */
export function isWellFormed(kind: CredentialKind, value: string): boolean {
  const prefix = PREFIXES[kind];
  const length = value.length - prefix.length - CHECKSUM_LENGTH;
  if ((length !== BODY_LENGTH && length !== SELECTOR_LENGTH + BODY_LENGTH) || !value.startsWith(prefix)) return false;
  const head = value.slice(0, -CHECKSUM_LENGTH);
  if (!/^[0-9A-Za-z]+$/.test(value.slice(prefix.length))) return false;
  return checksum(head) === value.slice(-CHECKSUM_LENGTH);
}

/** SHA-256 hex: how codes and tokens are stored (codes are looked up by it, through a unique index). */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Constant-time equality of two SHA-256 hex digests (a stored hash and a presented token's). */
export function hashesEqual(stored: string | null, presented: string): boolean {
  if (stored === null || stored.length !== 64 || presented.length !== 64) return false;
  return timingSafeEqual(Buffer.from(stored, "latin1"), Buffer.from(presented, "latin1"));
}

/**
 * Constant-time string equality. Both sides are hashed first so the comparison
 * neither leaks the length nor needs equal-length inputs.
 */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * safeEqual against a fixed secret (the admin token) whose digest is computed once: the
 * returned function hashes only what is presented, once per call.
 */
export function safeEqualTo(secret: string): (presented: string) => boolean {
  const expected = createHash("sha256").update(secret).digest();
  return (presented) => timingSafeEqual(createHash("sha256").update(presented).digest(), expected);
}

/** A public, non-secret identifier (client_id): 20 base62 characters. */
export function generateClientId(): string {
  return base62(randomBytesPooled(16), 20);
}
