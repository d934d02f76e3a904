// Pausing an application's webhooks when its endpoint keeps failing (or its leaked webhook
// secret was replaced by one nobody knows), and resuming them.
// A paused application's deliveries stay pending (the worker skips them) until an
// operator resumes: PATCH /admin/v1/applications/{id} {"webhooks_paused": false}.
import type { DomainContext } from "./context.js";
import { notFound } from "./errors.js";
import { recordEvent } from "./events.js";
import type { Tx } from "./ports.js";

/**
 * Pauses in the caller's transaction, once: true when this call paused it (the caller then
 * records application.webhooks_paused, saying why). Also used when a leaked webhook secret is
 * replaced by one nobody knows (src/domain/leaked-credentials.ts).
 */
export async function pauseWebhooksIn(tx: Tx, applicationId: string, now: Date): Promise<boolean> {
  const { count } = await tx.application.updateMany({ where: { id: applicationId, webhooksPausedAt: null }, data: { webhooksPausedAt: now } });
  return count > 0;
}

/** Pauses an endpoint that keeps failing, once: true when this call paused it (and recorded application.webhooks_paused). */
export async function pauseWebhooks(ctx: DomainContext, applicationId: string, streak: { failures: number; since: Date }): Promise<boolean> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    if (!(await pauseWebhooksIn(tx, applicationId, now))) return false;
    await recordEvent(ctx, tx, {
      type: "application.webhooks_paused",
      applicationId,
      data: { consecutive_failures: streak.failures, failing_since: streak.since.toISOString() },
    });
    return true;
  });
}

/**
 * Resumes, in the caller's transaction (updateApplication, src/domain/applications.ts, with
 * the PATCH's other fields): the pending deliveries are due at once, and their give-up age
 * counts from the resume (as from a redelivery): the time they were held is not the
 * endpoint's failure, so a pause longer than APPGRANT_WEBHOOK_GIVE_UP_HOURS does not give
 * them up at their first failure after it. Resuming an application that is not paused
 * changes nothing (false).
 */
export async function resumeWebhooks(ctx: DomainContext, tx: Tx, applicationId: string): Promise<boolean> {
  const now = ctx.clock();
  const application = await tx.application.findUnique({ where: { id: applicationId }, select: { webhooksPausedAt: true } });
  if (!application) throw notFound("application");
  if (application.webhooksPausedAt === null) return false;
  await tx.application.update({ where: { id: applicationId }, data: { webhooksPausedAt: null, updatedAt: now } });
  await tx.webhookDelivery.updateMany({ where: { applicationId, status: "pending" }, data: { nextAttemptAt: now, redeliveredAt: now } });
  await recordEvent(ctx, tx, {
    type: "application.webhooks_resumed",
    applicationId,
    data: { paused_at: application.webhooksPausedAt.toISOString() },
  });
  return true;
}
