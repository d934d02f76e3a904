// Webhook signatures: `Appgrant-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
// over `<t>.<raw body>` with the application's webhook secret. The timestamp is
// signed so a receiver can refuse replays older than a few minutes.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "appgrant-signature";

export function sign(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** What a receiver does (tests use it; it is documented in README for integrators). */
export function verify(secret: string, header: string, body: string, now: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || Math.abs(now - timestamp) > toleranceSeconds || !parts.v1) return false;
  const expected = Buffer.from(sign(secret, timestamp, body).split("v1=")[1]!, "hex");
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
