// Authenticated encryption for the few secrets the server must be able to use again
// (webhook signing secrets: HMAC needs the secret itself, so a hash cannot do).
// AES-256-GCM under a key derived from a server key with HKDF, one key per purpose.
// Sealed under the first server key; opened with whichever key sealed it (the GCM tag
// tells a wrong key apart), so ciphertexts from before a key rotation keep working
// until `appgrant keys reencrypt` moves them to the new key.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { ServerKeys } from "./server-keys.js";

const VERSION = "v1";

function key(serverKey: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", serverKey, "appgrant", `appgrant/${purpose}`, 32));
}

export function encrypt(keys: ServerKeys, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key(keys.current, purpose), iv);
  // The purpose is bound as associated data: a ciphertext cannot be replayed into another field.
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

function openWith(serverKey: string, purpose: string, raw: Buffer): string | undefined {
  const decipher = createDecipheriv("aes-256-gcm", key(serverKey, purpose), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return undefined; // not this key (or tampered with)
  }
}

/** The plaintext and the position of the key that opened it (0: the current key). */
export function open(keys: ServerKeys, purpose: string, sealed: string): { plaintext: string; keyIndex: number } {
  const [version, payload] = sealed.split(".");
  if (version !== VERSION || payload === undefined) throw new Error("unsupported ciphertext format");
  const raw = Buffer.from(payload, "base64url");
  if (raw.length < 28) throw new Error("truncated ciphertext");
  for (const [keyIndex, serverKey] of keys.all.entries()) {
    const plaintext = openWith(serverKey, purpose, raw);
    if (plaintext !== undefined) return { plaintext, keyIndex };
  }
  throw new Error("no server key opens this ciphertext (sealed under a key no longer configured, or altered)");
}

export function decrypt(keys: ServerKeys, purpose: string, sealed: string): string {
  return open(keys, purpose, sealed).plaintext;
}
