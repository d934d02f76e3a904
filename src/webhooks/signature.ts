// Webhook signatures, Standard Webhooks (https://www.standardwebhooks.com/): the
// headers webhook-id (the delivery's id, the same on every attempt), webhook-timestamp
// (unix seconds) and webhook-signature, `v1,<base64 HMAC-SHA256>` of
// `<id>.<timestamp>.<raw body>`, several separated by spaces while a rotated secret
// still overlaps the new one. Receivers verify with any Standard Webhooks library.
import { Webhook } from "standardwebhooks";

export const WEBHOOK_SECRET_PREFIX = "whsec_";

/**
 * The HMAC key of a webhook secret: the base64 after `whsec_` (the form issued now),
 * or, for a secret issued before in the `agw_…` form, its own bytes (what a Standard
 * Webhooks library uses with `{ format: "raw" }`).
 */
export function signingKey(secret: string): Uint8Array {
  if (secret.startsWith(WEBHOOK_SECRET_PREFIX)) return new Uint8Array(Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), "base64"));
  return new Uint8Array(Buffer.from(secret, "utf8"));
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** The three headers of a delivery signed with each of `secrets` (current first). */
export function signDelivery(secrets: readonly string[], id: string, at: Date, body: string): SignedHeaders {
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  const signatures = secrets.map((secret) => new Webhook(signingKey(secret), { format: "raw" }).sign(id, timestamp, body));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp.getTime() / 1000),
    "webhook-signature": signatures.join(" "),
  };
}
