// Row ids are UUIDv7 (RFC 9562): time-ordered, so ordering by id is creation order
// (stable cursor pagination, and Prisma Studio lists rows chronologically). Within
// one millisecond (or if the clock steps back) a 12-bit counter in rand_a keeps the
// ids of this process increasing (RFC 9562 §6.2, method 1).
import { randomBytesPooled } from "./random.js";

let lastMs = 0;
let counter = 0;

export function newId(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    counter++;
    ms = lastMs;
    if (counter > 0xfff) {
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = randomBytesPooled(2).readUInt16BE(0) & 0x7ff; // start low: room to count up
  }
  lastMs = ms;
  const bytes = randomBytesPooled(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return uuidText(bytes);
}

/** 16 bytes in the UUID text form (8-4-4-4-12 lower-case hex). */
export function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
