// Random bytes for ids and credentials from a pooled buffer filled by the CSPRNG:
// crypto.randomBytes makes a call into C++ and an allocation each time (~3 µs for 16
// bytes here, a few percent of a token request, which takes two or three), the way
// crypto.randomUUID batches its own. Each byte is handed out once and wiped from the
// pool as it is; the pool is refilled when spent.
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE; // spent: filled at the first call

/** `length` bytes from the CSPRNG, as crypto.randomBytes would give them. */
export function randomBytesPooled(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  if (length > POOL_SIZE) return randomFillSync(out);
  if (offset + length > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(out, 0, offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}
