// Removes what can never be used again: codes past their expiry, authorization
// requests past theirs, token pairs past their refresh expiry (an installation token,
// which has none, past its access expiry), the jtis of client assertions past theirs,
// device authorizations past theirs (RFC 8628: answered or not, the device code is dead);
// and events older
// than the retention (APPGRANT_EVENT_RETENTION_DAYS, 90 days by default, 0: forever). In bounded
// batches, each its own short transaction, so the tables are never locked for long
// and several processes can purge at once without harm.
import type { DomainContext } from "./context.js";

export interface PurgeResult {
  codes: number;
  authorizationRequests: number;
  tokens: number;
  clientAssertions: number;
  deviceAuthorizations: number;
  events: number;
}

export const DEFAULT_EVENT_RETENTION_DAYS = 90;

export const DEFAULT_PURGE_BATCH = 500;

async function inBatches(batch: number, findIds: () => Promise<{ id: string }[]>, remove: (ids: string[]) => Promise<number>) {
  let total = 0;
  for (;;) {
    const ids = (await findIds()).map((row) => row.id);
    if (ids.length === 0) return total;
    total += await remove(ids);
    if (ids.length < batch) return total;
  }
}

export async function purgeExpired(ctx: DomainContext, batch = DEFAULT_PURGE_BATCH): Promise<PurgeResult> {
  const now = ctx.clock();
  const select = { select: { id: true }, take: batch, orderBy: { id: "asc" as const } };
  const codes = await inBatches(
    batch,
    () => ctx.db.authorizationCode.findMany({ ...select, where: { expiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.authorizationCode.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const authorizationRequests = await inBatches(
    batch,
    () => ctx.db.authorizationRequest.findMany({ ...select, where: { expiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.authorizationRequest.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const tokens = await inBatches(
    batch,
    () => ctx.db.token.findMany({ ...select, where: { refreshExpiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.token.deleteMany({ where: { id: { in: ids }, refreshExpiresAt: { lt: now } } })).count),
  );
  const clientAssertions = await inBatches(
    batch,
    () => ctx.db.clientAssertion.findMany({ ...select, where: { expiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.clientAssertion.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const deviceAuthorizations = await inBatches(
    batch,
    () => ctx.db.deviceAuthorization.findMany({ ...select, where: { expiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.deviceAuthorization.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const retentionDays = ctx.config.eventRetentionDays ?? DEFAULT_EVENT_RETENTION_DAYS;
  const before = new Date(now.getTime() - retentionDays * 86_400_000);
  const events =
    retentionDays <= 0
      ? 0
      : await inBatches(
          batch,
          () => ctx.db.event.findMany({ ...select, where: { occurredAt: { lt: before } } }),
          (ids) => ctx.transaction(async (tx) => (await tx.event.deleteMany({ where: { id: { in: ids }, occurredAt: { lt: before } } })).count),
        );
  return { codes, authorizationRequests, tokens, clientAssertions, deviceAuthorizations, events };
}
