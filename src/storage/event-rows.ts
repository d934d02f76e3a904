// The Event and WebhookDelivery rows the token stores write in plain SQL, in the
// transaction of the revocation they record (src/domain/events.ts builds the rows;
// this file holds their column lists, checked against the Prisma model like
// token-rows.ts: a renamed field, or a field eventRow or deliveryRow gains, fails tsc).
import { type DeliveryRow, deliveryRow, type EventRow, eventRow, WEBHOOK_EVENT_TYPES } from "../domain/events.js";
import type { Event, WebhookDelivery } from "../generated/prisma/client.js";
import type { RevocationEvent } from "../oauth/token-store.js";

export const EVENT_FIELDS = [
  "id",
  "occurredAt",
  "type",
  "actorType",
  "actorId",
  "applicationId",
  "installationId",
  "requestId",
  "sourceIp",
  "data",
] as const satisfies readonly (keyof Event & keyof EventRow)[];

export const DELIVERY_FIELDS = [
  "id",
  "eventId",
  "applicationId",
  "installationId",
  "type",
  "payload",
  "codeEncrypted",
  "codeId",
  "codeExpiresAt",
  "status",
  "attempts",
  "nextAttemptAt",
  "createdAt",
] as const satisfies readonly (keyof WebhookDelivery & keyof DeliveryRow)[];

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time only: every field of the rows the domain builds is inserted.
true satisfies Same<(typeof EVENT_FIELDS)[number], keyof EventRow>;
true satisfies Same<(typeof DELIVERY_FIELDS)[number], keyof DeliveryRow>;

export const EVENT_COLUMNS = EVENT_FIELDS.map((field) => `"${field}"`).join(", ");
export const DELIVERY_COLUMNS = DELIVERY_FIELDS.map((field) => `"${field}"`).join(", ");

/** deliveryRow reads the server key only to seal a code, and a revocation's event carries none. */
const NO_CODE = {} as Parameters<typeof deliveryRow>[0];

/**
 * A reuse is recorded even when nothing was left to revoke (it is the signal that a
 * credential leaked); a client's own revocation only when it revoked something.
 */
export function recordsEvent(event: RevocationEvent | undefined, revoked: number): event is RevocationEvent {
  return event !== undefined && (revoked > 0 || event.type !== "token.revoked");
}

/**
 * The rows of a revocation's event: the Event, and the WebhookDelivery a reuse causes
 * (inserted only if the application has a webhook URL, which the INSERT … SELECT checks).
 */
export function revocationRows(event: RevocationEvent, now: Date, revoked: number): { event: EventRow; delivery: DeliveryRow | null } {
  const row = eventRow(
    {
      type: event.type,
      applicationId: event.applicationId,
      installationId: event.installationId,
      data: { ...event.data, revoked },
    },
    { type: "client", id: event.clientId, requestId: event.requestId, sourceIp: event.sourceIp },
    now,
  );
  return { event: row, delivery: WEBHOOK_EVENT_TYPES.has(event.type) ? deliveryRow(NO_CODE, row) : null };
}
