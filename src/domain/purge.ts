// Removes what can never be used again: codes past their expiry, authorization
// requests past theirs, token pairs past their refresh expiry (an installation token,
// which has none, past its access expiry), the jtis of client assertions past theirs,
// device authorizations past theirs (RFC 8628: answered or not, the device code is dead);
// the sealed codes of webhook deliveries still pending once those codes have expired (a
// delivery that ends erases its own, src/storage/outbox-store.ts); and events older
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
  /** Pending webhook deliveries whose expired code was erased (the delivery stays, to be sent without it). */
  webhookCodes: number;
  /** Ended deliveries (delivered or given up) whose last attempt is older than the event retention. */
  webhookDeliveries: number;
  events: number;
}

export const DEFAULT_EVENT_RETENTION_DAYS = 90;

export const DEFAULT_PURGE_BATCH = 500;

/**
 * How long one batch's transaction aims to hold the write lock: about the longest a
 * token request waits behind the purge. A deleted token row costs ~100 µs on SQLite (a
 * random leaf in each of its seven indexes), so a batch of 500 held the lock ~60 ms,
 * and back-to-back batches of another process starved the server's retries (p99 515 ms
 * in the growth bench).
 */
export const PURGE_BATCH_TARGET_MS = 10;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The purge's view of time: real by default, a test's own in test/unit/purge-pacing.test.ts. */
export interface Pacing {
  /** Milliseconds, monotonic (performance.now). */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_PACING: Pacing = { now: () => performance.now(), sleep };

/**
 * Deletes in batches of at most `max` rows, sized to take about PURGE_BATCH_TARGET_MS
 * each (halved or doubled after each batch), and pauses after each as long as it took:
 * the lock is free at least half the time, for the requests of this process and of others.
 */
export async function inBatches(
  max: number,
  findIds: (take: number) => Promise<{ id: string }[]>,
  remove: (ids: string[]) => Promise<number>,
  pacing: Pacing = REAL_PACING,
): Promise<number> {
  let total = 0;
  let size = Math.min(max, 50);
  for (;;) {
    const ids = (await findIds(size)).map((row) => row.id);
    if (ids.length === 0) return total;
    const started = pacing.now();
    total += await remove(ids);
    const took = pacing.now() - started;
    if (ids.length < size) return total;
    const scaled = Math.round((size * PURGE_BATCH_TARGET_MS) / Math.max(took, 0.1));
    size = Math.max(1, Math.min(max, 2 * size, Math.max(Math.floor(size / 2), scaled)));
    await pacing.sleep(took);
  }
}

export async function purgeExpired(ctx: DomainContext, batch = DEFAULT_PURGE_BATCH): Promise<PurgeResult> {
  const now = ctx.clock();
  // Each batch is read in the order of the index on its expiry column, so it costs the
  // batch, not the table: in id order, the scan passes every live row before the
  // expired ones it keeps, each batch more than the last (minutes per batch with
  // millions of rows, measured by the growth bench). Codes have no expiry index but
  // expire in the order they were created, their ids' order.
  const select = (take: number) => ({ select: { id: true }, take });
  const oldest = (take: number) => ({ ...select(take), orderBy: { id: "asc" as const } });
  const codes = await inBatches(
    batch,
    (take) => ctx.db.authorizationCode.findMany({ ...oldest(take), where: { expiresAt: { lt: now } } }),
    (ids) => ctx.transaction(async (tx) => (await tx.authorizationCode.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const authorizationRequests = await inBatches(
    batch,
    (take) => ctx.db.authorizationRequest.findMany({ ...select(take), where: { expiresAt: { lt: now } }, orderBy: { expiresAt: "asc" } }),
    (ids) => ctx.transaction(async (tx) => (await tx.authorizationRequest.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const tokens = await inBatches(
    batch,
    (take) => ctx.db.token.findMany({ ...select(take), where: { refreshExpiresAt: { lt: now } }, orderBy: { refreshExpiresAt: "asc" } }),
    (ids) => ctx.transaction(async (tx) => (await tx.token.deleteMany({ where: { id: { in: ids }, refreshExpiresAt: { lt: now } } })).count),
  );
  const clientAssertions = await inBatches(
    batch,
    (take) => ctx.db.clientAssertion.findMany({ ...select(take), where: { expiresAt: { lt: now } }, orderBy: { expiresAt: "asc" } }),
    (ids) => ctx.transaction(async (tx) => (await tx.clientAssertion.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  const deviceAuthorizations = await inBatches(
    batch,
    (take) => ctx.db.deviceAuthorization.findMany({ ...select(take), where: { expiresAt: { lt: now } }, orderBy: { expiresAt: "asc" } }),
    (ids) => ctx.transaction(async (tx) => (await tx.deviceAuthorization.deleteMany({ where: { id: { in: ids }, expiresAt: { lt: now } } })).count),
  );
  // Only pending deliveries can hold a code (the status index finds them): an attempt that
  // ends a delivery erases it. Read in the order of that index, (status, nextAttemptAt). A paused application's or a suspended installation's
  // deliveries are not attempted, so this is what erases theirs.
  const expiredSeal = { status: "pending", codeEncrypted: { not: null }, codeExpiresAt: { lt: now } };
  const webhookCodes = await inBatches(
    batch,
    (take) => ctx.db.webhookDelivery.findMany({ ...select(take), where: expiredSeal, orderBy: { nextAttemptAt: "asc" } }),
    (ids) =>
      ctx.transaction(
        async (tx) => (await tx.webhookDelivery.updateMany({ where: { id: { in: ids }, ...expiredSeal }, data: { codeEncrypted: null } })).count,
      ),
  );
  const retentionDays = ctx.config.eventRetentionDays ?? DEFAULT_EVENT_RETENTION_DAYS;
  const before = new Date(now.getTime() - retentionDays * 86_400_000);
  const events =
    retentionDays <= 0
      ? 0
      : await inBatches(
          batch,
          (take) => ctx.db.event.findMany({ ...select(take), where: { occurredAt: { lt: before } }, orderBy: { occurredAt: "asc" } }),
          (ids) => ctx.transaction(async (tx) => (await tx.event.deleteMany({ where: { id: { in: ids }, occurredAt: { lt: before } } })).count),
        );
  // Deliveries that ended (delivered, or given up) go with the events, once their last
  // attempt is older than the retention: an ended delivery's nextAttemptAt is the time its
  // last attempt was due (a redelivery moves it), and (status, nextAttemptAt) is indexed.
  // Pending deliveries stay, however old: they are held (paused, suspended) or still due.
  let webhookDeliveries = 0;
  if (retentionDays > 0) {
    for (const status of ["delivered", "failed"]) {
      const ended = { status, nextAttemptAt: { lt: before } };
      webhookDeliveries += await inBatches(
        batch,
        (take) => ctx.db.webhookDelivery.findMany({ ...select(take), where: ended, orderBy: { nextAttemptAt: "asc" } }),
        (ids) => ctx.transaction(async (tx) => (await tx.webhookDelivery.deleteMany({ where: { id: { in: ids }, ...ended } })).count),
      );
    }
  }
  return { codes, authorizationRequests, tokens, clientAssertions, deviceAuthorizations, webhookCodes, events, webhookDeliveries };
}
