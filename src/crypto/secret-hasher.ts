// Client secrets are stored as argon2id hashes. One argon2 verification costs
// ~140 ms here, so a client that calls the token endpoint steadily must not pay it
// on every request: a successful verification is remembered in memory.
//
// Why this stays correct across processes and after rotation or deletion: the
// memory is keyed by the stored hash (a PHC string, unique per secret thanks to its
// salt) that the caller has *just read from the database*. A deleted or expired
// secret is never read, so its entry can never authenticate; another process's
// changes are seen through the database, not through this cache. What is remembered
// is an HMAC of the presented secret under a per-process random key, never the
// secret itself, and it is compared in constant time.
import argon2 from "argon2";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export class SecretHasher {
  readonly #key = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();

  constructor(private readonly maxRemembered = 10_000) {}

  hash(secret: string): Promise<string> {
    return argon2.hash(secret, { type: argon2.argon2id });
  }

  async verify(storedHash: string, presented: string): Promise<boolean> {
    const mac = createHmac("sha256", this.#key).update(presented).digest();
    const remembered = this.#verified.get(storedHash);
    if (remembered !== undefined && timingSafeEqual(remembered, mac)) return true;
    let ok: boolean;
    try {
      ok = await argon2.verify(storedHash, presented);
    } catch {
      ok = false; // a malformed stored hash authenticates nobody
    }
    if (ok) this.#remember(storedHash, mac);
    return ok;
  }

  #remember(storedHash: string, mac: Buffer): void {
    this.#verified.delete(storedHash);
    this.#verified.set(storedHash, mac);
    if (this.#verified.size > this.maxRemembered) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
  }
}
