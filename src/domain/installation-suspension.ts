// Suspending an installation cuts the application off from one account without deleting
// anything (GitHub's "suspend"): the installation's status becomes "suspended", and the
// token endpoint's statements, which issue only while it is "active"
// (src/storage/*-token-store.ts), issue nothing; introspection joins the status, so every
// token of it is inactive; the delivery worker claims none of its webhooks
// (src/storage/outbox-store.ts). Nothing is revoked, so unsuspending restores every token
// and code that has not expired or been revoked meanwhile, and releases the held webhooks.
import type { DomainContext } from "./context.js";
import { conflict, invalid, notFound } from "./errors.js";
import { recordEvent } from "./events.js";
import { type InstallationWithApp, withApp } from "./installations.js";
import type { Tx } from "./ports.js";
import { installationJson } from "./views.js";

export const MAX_SUSPENSION_REASON = 500;

/** The installation after a conditional status change; not found, or uninstalled (conflict), throws. */
async function afterChange(tx: Tx, id: string, count: number): Promise<InstallationWithApp> {
  const installation = await tx.installation.findUnique({ where: { id }, include: withApp });
  if (!installation) throw notFound("installation");
  if (count === 0 && installation.status === "uninstalled") throw conflict("installation is uninstalled");
  return installation;
}

/** Suspends an active installation; suspending a suspended one changes nothing (changed: false). */
export async function suspendInstallation(
  ctx: DomainContext,
  id: string,
  reason?: string | null,
): Promise<{ installation: InstallationWithApp; changed: boolean }> {
  const text = reason?.trim() || null;
  if (text !== null && text.length > MAX_SUSPENSION_REASON) throw invalid(`reason: at most ${MAX_SUSPENSION_REASON} characters`);
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    // One conditional write of the installation row: on PostgreSQL it waits for a token
    // statement holding the row FOR SHARE, and makes any later one find it not active.
    const { count } = await tx.installation.updateMany({
      where: { id, status: "active" },
      data: { status: "suspended", suspendedAt: now, suspensionReason: text },
    });
    const installation = await afterChange(tx, id, count);
    if (count === 1) {
      await recordEvent(ctx, tx, {
        type: "installation.suspended",
        applicationId: installation.applicationId,
        installationId: id,
        data: { installation: installationJson(installation), reason: text },
      });
    }
    return { installation, changed: count === 1 };
  });
}

/** Unsuspends; an active installation is left as it is (changed: false). */
export async function unsuspendInstallation(ctx: DomainContext, id: string): Promise<{ installation: InstallationWithApp; changed: boolean }> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    const before = await tx.installation.findUnique({ where: { id }, select: { suspendedAt: true, suspensionReason: true } });
    const { count } = await tx.installation.updateMany({
      where: { id, status: "suspended" },
      data: { status: "active", suspendedAt: null, suspensionReason: null },
    });
    const installation = await afterChange(tx, id, count);
    if (count === 1) {
      // The held deliveries are due now, and their give-up age counts from the release
      // (as from a redelivery): the time they were held is not the endpoint's failure.
      await tx.webhookDelivery.updateMany({
        where: { installationId: id, status: "pending", type: { not: "installation.suspended" } },
        data: { nextAttemptAt: now, redeliveredAt: now },
      });
      await recordEvent(ctx, tx, {
        type: "installation.unsuspended",
        applicationId: installation.applicationId,
        installationId: id,
        data: {
          installation: installationJson(installation),
          suspended_at: before?.suspendedAt?.toISOString() ?? null,
          reason: before?.suspensionReason ?? null,
        },
      });
    }
    return { installation, changed: count === 1 };
  });
}
