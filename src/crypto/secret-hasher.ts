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
//
// With Redis, a verification is also shared with the other processes (and outlives
// a restart): under the same stored hash, an HMAC keyed by a key derived from the
// server key, which every process shares. Redis thus never holds anything that could
// authenticate (forging an entry needs the server key), and a client under attack
// is recognised without argon2 by a process that has not verified it yet (see
// src/http/oauth/rate-limit.ts).
import argon2 from "argon2";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Verifications shared by the processes; it fails soft (a miss). */
export interface SharedVerifications {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

export class SecretHasher {
  readonly #key = randomBytes(32);
  readonly #verified = new Map<string, Buffer>();
  /** Verifications in progress, by the presented secret's HMAC and the hashes it is checked against. */
  readonly #flights = new Map<string, Promise<boolean>>();
  #shared: { memory: SharedVerifications; key: Buffer } | undefined;

  constructor(private readonly maxRemembered = 10_000) {}

  /** Shares verifications through `memory`, under HMACs keyed by `key` (the same in every process). */
  share(memory: SharedVerifications, key: Buffer): void {
    this.#shared = { memory, key };
  }

  /**
   * True when `presented` matches a verification remembered for one of `storedHashes`,
   * here or by another process: no argon2 is spent on it either way.
   */
  async recognises(storedHashes: readonly string[], presented: string): Promise<boolean> {
    const mac = createHmac("sha256", this.#key).update(presented).digest();
    for (const storedHash of storedHashes) {
      const remembered = this.#verified.get(storedHash);
      if (remembered !== undefined && timingSafeEqual(remembered, mac)) return true;
    }
    const shared = this.#shared;
    if (!shared) return false;
    for (const storedHash of storedHashes) {
      const remembered = await shared.memory.get(sharedName(storedHash));
      if (remembered === undefined) continue;
      const expected = sharedMac(shared.key, storedHash, presented);
      const actual = Buffer.from(remembered, "base64url");
      if (actual.length === expected.length && timingSafeEqual(actual, expected)) {
        this.#remember(storedHash, mac);
        return true;
      }
    }
    return false;
  }

  /** Which of `storedHashes` this process has verified `presented` against (after recognises or verifyAny said yes), if any. */
  verifiedHash(storedHashes: Iterable<string>, presented: string): string | undefined {
    const mac = createHmac("sha256", this.#key).update(presented).digest();
    for (const storedHash of storedHashes) {
      const remembered = this.#verified.get(storedHash);
      if (remembered !== undefined && timingSafeEqual(remembered, mac)) return storedHash;
    }
    return undefined;
  }

  /**
   * Verifies `presented` against `storedHashes` (true when one matches), running
   * `before` (the caller's budget check) and argon2 once for concurrent identical
   * requests: a client that sends a burst right after a restart costs one
   * verification, and the burst is not counted as a burst of guesses.
   */
  verifyAny(storedHashes: readonly string[], presented: string, before?: () => Promise<void>): Promise<boolean> {
    const mac = createHmac("sha256", this.#key).update(presented).digest();
    for (const storedHash of storedHashes) {
      const remembered = this.#verified.get(storedHash);
      if (remembered !== undefined && timingSafeEqual(remembered, mac)) return Promise.resolve(true);
    }
    const key = `${mac.toString("base64")} ${storedHashes.join(" ")}`;
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      flight = (async () => {
        await before?.();
        for (const storedHash of storedHashes) if (await this.verify(storedHash, presented)) return true;
        return false;
      })();
      this.#flights.set(key, flight);
      const done = () => this.#flights.delete(key);
      flight.then(done, done);
    }
    return flight;
  }

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
    if (ok) {
      this.#remember(storedHash, mac);
      const shared = this.#shared;
      if (shared) await shared.memory.set(sharedName(storedHash), sharedMac(shared.key, storedHash, presented).toString("base64url"));
    }
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

/** The stored hash itself (salt and argon2 output) does not go to Redis: its SHA-256 names the entry. */
function sharedName(storedHash: string): string {
  return createHash("sha256").update(storedHash).digest("hex");
}

function sharedMac(key: Buffer, storedHash: string, presented: string): Buffer {
  return createHmac("sha256", key).update(storedHash).update("\0").update(presented).digest();
}
