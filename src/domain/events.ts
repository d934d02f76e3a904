// Events: the audit record of every change worth knowing about, and the outbox of the
// webhooks they cause. An event is written in the same transaction as the change it
// records (recordEvent takes the transaction's client), so a change without its event,
// or an event without its change, cannot exist. The events an application subscribes to
// also write their WebhookDelivery row in that transaction: a delivery cannot be lost
// between the change and the send, whatever happens to the process (src/webhooks/ sends
// them). The token endpoint's own events are written by the token stores in plain SQL,
// from the rows eventRow and deliveryRow build here.
import { encrypt } from "../crypto/encryption.js";
import { newId } from "../shared/ids.js";
import type { DomainContext } from "./context.js";
import type { Tx } from "./ports.js";

export const EVENT_TYPES = [
  "application.created",
  "application.updated",
  "application.deleted",
  "application.secret_added",
  "application.secret_deleted",
  "application.key_added",
  "application.key_deleted",
  "application.webhook_secret_rotated",
  "application.webhooks_paused",
  "application.webhooks_resumed",
  "installation.created",
  "installation.deleted",
  "installation.code_reissued",
  "installation.suspended",
  "installation.unsuspended",
  "installation.new_permissions_requested",
  "installation.new_permissions_accepted",
  "installation.new_permissions_rejected",
  "authorization_request.accepted",
  "authorization_request.rejected",
  "device_authorization.accepted",
  "device_authorization.rejected",
  "token.code_reused",
  "token.refresh_reused",
  "token.revoked",
  "client.authentication_locked",
  "credential.leaked",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The events an application with a webhook URL receives: its installations' lifecycle,
 * replays and leaks of its credentials, and changes to its keys (which sign what it sends us).
 */
export const WEBHOOK_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  "application.key_added",
  "application.key_deleted",
  "installation.created",
  "installation.deleted",
  "installation.code_reissued",
  "installation.suspended",
  "installation.unsuspended",
  "installation.new_permissions_requested",
  "installation.new_permissions_accepted",
  "token.code_reused",
  "token.refresh_reused",
  "credential.leaked",
]);

/** Who caused an event. `id` is the admin credential's id (never the credential) or the client's client_id. */
export type Actor =
  | { type: "admin"; id: string; requestId?: string; sourceIp?: string }
  | { type: "client"; id: string; requestId?: string; sourceIp?: string }
  | { type: "cli" }
  | { type: "system"; requestId?: string; sourceIp?: string };

export const SYSTEM_ACTOR: Actor = { type: "system" };

export interface EventInput {
  type: EventType;
  applicationId?: string | null;
  installationId?: string | null;
  /** Describes the change. Never a secret, code or token: their hashes' first characters at most. */
  data: Record<string, unknown>;
}

/** A code that travels in a webhook (installation.created, code_reissued) while it is valid. */
export interface WebhookCode {
  value: string;
  id: string;
  expiresAt: Date;
}

export const WEBHOOK_CODE_PURPOSE = "webhook-code";

/** The Event row of `input`, as both Prisma and the token stores' SQL insert it. */
export function eventRow(input: EventInput, actor: Actor, now: Date) {
  return {
    id: newId(now.getTime()),
    occurredAt: now,
    type: input.type,
    actorType: actor.type,
    actorId: actor.type === "admin" || actor.type === "client" ? actor.id : null,
    applicationId: input.applicationId ?? null,
    installationId: input.installationId ?? null,
    requestId: actor.type === "cli" ? null : (actor.requestId ?? null),
    sourceIp: actor.type === "cli" ? null : (actor.sourceIp ?? null),
    data: JSON.stringify(input.data),
  };
}
export type EventRow = ReturnType<typeof eventRow>;

/**
 * The WebhookDelivery row for an event an application subscribes to. The body is the
 * Standard Webhooks shape {type, timestamp, data}; the code is kept apart, sealed, and
 * added to data at send time only while it is still valid.
 */
export function deliveryRow(ctx: Pick<DomainContext, "secretKey">, event: EventRow, code?: WebhookCode) {
  return {
    id: `msg_${event.id}`,
    eventId: event.id,
    applicationId: event.applicationId!,
    installationId: event.installationId,
    type: event.type,
    payload: JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: JSON.parse(event.data) }),
    codeEncrypted: code ? encrypt(ctx.secretKey, WEBHOOK_CODE_PURPOSE, code.value) : null,
    codeId: code?.id ?? null,
    codeExpiresAt: code?.expiresAt ?? null,
    status: "pending",
    attempts: 0,
    nextAttemptAt: event.occurredAt,
    createdAt: event.occurredAt,
  };
}
export type DeliveryRow = ReturnType<typeof deliveryRow>;

/**
 * Records `input` in the transaction `tx` (the one making the change), and its webhook
 * delivery when the application subscribes to it (it has a webhook URL). Returns the
 * event's id and the delivery's, if any.
 */
export async function recordEvent(
  ctx: DomainContext,
  tx: Tx,
  input: EventInput,
  code?: WebhookCode,
): Promise<{ eventId: string; deliveryId: string | null }> {
  const event = eventRow(input, ctx.actor, ctx.clock());
  await tx.event.create({ data: event });
  if (!input.applicationId || !WEBHOOK_EVENT_TYPES.has(input.type)) return { eventId: event.id, deliveryId: null };
  const application = await tx.application.findUnique({ where: { id: input.applicationId }, select: { webhookUrl: true } });
  if (!application?.webhookUrl) return { eventId: event.id, deliveryId: null };
  const delivery = deliveryRow(ctx, event, code);
  await tx.webhookDelivery.create({ data: delivery });
  return { eventId: event.id, deliveryId: delivery.id };
}

/** Rows per createMany: far below either database's limit on a statement's parameters. */
const BATCH = 500;

/**
 * recordEvent for many events of one change at once (a change of an application's scopes
 * touches every installation): a few statements per table rather than several per event.
 */
export async function recordEvents(ctx: DomainContext, tx: Tx, inputs: readonly EventInput[]): Promise<void> {
  const now = ctx.clock();
  const events = inputs.map((input) => eventRow(input, ctx.actor, now));
  const subscribed = [
    ...new Set(events.flatMap((event) => (event.applicationId && WEBHOOK_EVENT_TYPES.has(event.type) ? [event.applicationId] : []))),
  ];
  const withUrl = new Set(
    subscribed.length === 0
      ? []
      : (await tx.application.findMany({ where: { id: { in: subscribed }, webhookUrl: { not: null } }, select: { id: true } })).map((a) => a.id),
  );
  const deliveries = events
    .filter((event) => withUrl.has(event.applicationId!) && WEBHOOK_EVENT_TYPES.has(event.type))
    .map((event) => deliveryRow(ctx, event));
  for (let i = 0; i < events.length; i += BATCH) await tx.event.createMany({ data: events.slice(i, i + BATCH) });
  for (let i = 0; i < deliveries.length; i += BATCH) await tx.webhookDelivery.createMany({ data: deliveries.slice(i, i + BATCH) });
}
