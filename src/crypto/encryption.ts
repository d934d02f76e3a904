// Authenticated encryption for the few secrets the server must be able to use again
// (webhook signing secrets: HMAC needs the secret itself, so a hash cannot do).
// AES-256-GCM under a key derived from the server key with HKDF, one key per purpose.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "v1";

function key(serverKey: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", serverKey, "appgrant", `appgrant/${purpose}`, 32));
}

export function encrypt(serverKey: string, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key(serverKey, purpose), iv);
  // The purpose is bound as associated data: a ciphertext cannot be replayed into another field.
  cipher.setAAD(Buffer.from(purpose));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

export function decrypt(serverKey: string, purpose: string, sealed: string): string {
  const [version, payload] = sealed.split(".");
  if (version !== VERSION || payload === undefined) throw new Error("unsupported ciphertext format");
  const raw = Buffer.from(payload, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key(serverKey, purpose), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
