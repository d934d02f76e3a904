// Webhook deliveries as the admin API and the CLI show them: the outbox rows
// (src/domain/events.ts writes them, src/webhooks/outbox.ts sends them) and a
// redelivery, which puts a delivery back in the queue under the same webhook-id.
import type { WebhookDelivery } from "../generated/prisma/client.js";
import type { DomainContext } from "./context.js";
import { conflict, notFound } from "./errors.js";
import { type Page, type PageRequest, pageArgs, toPage } from "./pagination.js";
import type { Tx } from "./ports.js";

/** A delivery as the admin API shows it: never its payload's code (the payload holds none) nor the sealed one. */
export function deliveryJson(delivery: WebhookDelivery) {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    application_id: delivery.applicationId,
    installation_id: delivery.installationId,
    type: delivery.type,
    // The column is text; the outbox writes only these three (src/webhooks/outbox.ts).
    status: delivery.status as "pending" | "delivered" | "failed",
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === "pending" ? delivery.nextAttemptAt : null,
    last_attempt_at: delivery.lastAttemptAt,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    last_duration_ms: delivery.lastDurationMs,
    last_response: delivery.lastResponse,
    created_at: delivery.createdAt,
    delivered_at: delivery.deliveredAt,
  };
}

/** Headers every attempt sends (src/webhooks/outbox.ts), besides webhook-id, -timestamp and -signature. */
export const WEBHOOK_CONTENT_TYPE = "application/json";
export const WEBHOOK_USER_AGENT = "appgrant-webhooks";

/**
 * One delivery with the request it sends, as the admin API and the CLI show it: the headers of
 * the last attempt (its webhook-timestamp as recorded, none before the first attempt) but the
 * signature, and the body as stored, where a code (installation.created, code_reissued) is
 * always shown redacted as `agc_…` — the admin API never shows a code again. The signature is
 * not stored: it covered the body as sent, code included, so it could not be checked against
 * this one anyway.
 */
export function deliveryDetailJson(delivery: WebhookDelivery) {
  const body = JSON.parse(delivery.payload) as { data?: Record<string, unknown> };
  if (delivery.codeId !== null && body.data) Object.assign(body.data, { code: "agc_…", code_expires_at: delivery.codeExpiresAt });
  const timestamp = delivery.lastWebhookTimestamp;
  const headers: Record<string, string> = {
    "webhook-id": delivery.id,
    ...(timestamp !== null ? { "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)) } : {}),
    "content-type": WEBHOOK_CONTENT_TYPE,
    "user-agent": WEBHOOK_USER_AGENT,
  };
  return { ...deliveryJson(delivery), request: { headers, body } };
}

export async function listDeliveries(ctx: DomainContext, applicationId: string, page: PageRequest): Promise<Page<WebhookDelivery>> {
  const application = await ctx.db.application.findUnique({ where: { id: applicationId }, select: { id: true } });
  if (!application) throw notFound("application");
  const args = pageArgs(page, "desc");
  return toPage(await ctx.db.webhookDelivery.findMany({ ...args, where: { ...args.where, applicationId } }), page);
}

export async function getDelivery(ctx: DomainContext, id: string): Promise<WebhookDelivery> {
  const delivery = await ctx.db.webhookDelivery.findUnique({ where: { id } });
  if (!delivery) throw notFound("delivery");
  return delivery;
}

/**
 * Why a pending delivery will not be sent yet: its application's webhooks are paused
 * (until PATCH webhooks_paused: false), or its installation is suspended (until it is
 * unsuspended; installation.suspended itself is never held). Null: it is sent when due.
 */
export type DeliveryHold = "webhooks_paused" | "installation_suspended" | null;

export interface Redelivery {
  delivery: WebhookDelivery;
  held: DeliveryHold;
}

/**
 * Sends a delivery again, whatever became of it (delivered, failed, or pending with a
 * retry far off): due now, same webhook-id and body, attempts counted on. A code in it
 * is sent only if still valid, as always. A redelivery that fails is retried as a new
 * delivery would be: the give-up age counts from the redelivery.
 *
 * A delivery being attempted now (a process holds its lease) is refused (conflict): taking
 * the lease from the running attempt would let a second send overlap it, and its outcome
 * would then be dropped. The operator sees that outcome within seconds and can redeliver
 * then. A lease whose process died has ended, and is no obstacle.
 *
 * A delivery whose webhooks are held (`held`) is queued all the same, and stays pending until
 * they are released: the caller says so rather than implying it is sent now.
 */
export async function redeliver(ctx: DomainContext, id: string): Promise<Redelivery> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    // Conditional on the lease in the same statement: a claim that commits first makes it match nothing.
    const { count } = await tx.webhookDelivery.updateMany({
      where: { id, OR: [{ leaseUntil: null }, { leaseUntil: { lte: now } }] },
      data: { status: "pending", nextAttemptAt: now, redeliveredAt: now, leaseUntil: null, deliveredAt: null },
    });
    if (count === 0) {
      const leased = await tx.webhookDelivery.findUnique({ where: { id }, select: { leaseUntil: true } });
      if (!leased) throw notFound("delivery");
      throw conflict(
        `delivery is being attempted now (its lease ends by ${leased.leaseUntil?.toISOString()}); ` +
          "its outcome is recorded when the attempt ends: redeliver it then if it is still needed",
      );
    }
    const delivery = await tx.webhookDelivery.findUniqueOrThrow({ where: { id } });
    return { delivery, held: await holdOf(tx, delivery) };
  });
}

async function holdOf(tx: Tx, delivery: WebhookDelivery): Promise<DeliveryHold> {
  const application = await tx.application.findUnique({ where: { id: delivery.applicationId }, select: { webhooksPausedAt: true } });
  if (application?.webhooksPausedAt) return "webhooks_paused";
  if (delivery.installationId === null || delivery.type === "installation.suspended") return null;
  const installation = await tx.installation.findUnique({ where: { id: delivery.installationId }, select: { status: true } });
  return installation?.status === "suspended" ? "installation_suspended" : null;
}

/** The outbox's backlog across every process, for the metrics. */
export interface OutboxBacklog {
  pending: number;
  /** How long the most overdue pending delivery has been due: 0 when none is due. */
  overdueSeconds: number;
  pausedApplications: number;
}

export async function outboxBacklog(ctx: DomainContext): Promise<OutboxBacklog> {
  const now = ctx.clock();
  const [pending, due, pausedApplications] = await Promise.all([
    ctx.db.webhookDelivery.count({ where: { status: "pending" } }),
    ctx.db.webhookDelivery.aggregate({ where: { status: "pending", nextAttemptAt: { lte: now } }, _min: { nextAttemptAt: true } }),
    ctx.db.application.count({ where: { webhooksPausedAt: { not: null } } }),
  ]);
  const since = due._min.nextAttemptAt;
  return { pending, overdueSeconds: since ? (now.getTime() - since.getTime()) / 1000 : 0, pausedApplications };
}
