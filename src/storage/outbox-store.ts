// The delivery worker's store (src/webhooks/outbox-store.ts) on either database.
// Claiming is the one step with a race: several processes poll the same table.
// - PostgreSQL: one UPDATE of the rows a `FOR UPDATE SKIP LOCKED` subquery picked, so
//   concurrent claimers take disjoint rows and never wait on each other.
// - SQLite: which rows are due is read first; the lease is then written, conditionally,
//   in a transaction behind the process's write lock (src/storage/write-lock.ts).
// Recording an attempt is conditional on the lease the claim set: a process whose lease
// ran out (and whose row another process claimed since) changes nothing.
// A suspended installation's deliveries are held: never claimed (so no attempt is spent)
// until it is unsuspended, except installation.suspended itself, which tells the
// application why it is cut off; held deliveries do not hold that one back.
import type { ClaimedDelivery, DeliveryApplication, OutboxStore } from "../webhooks/outbox-store.js";
import type { Db, Tx } from "./client.js";

export interface OutboxDatabase {
  prisma: Db;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/** The one type a suspended installation's webhooks still deliver. */
const SUSPENDED = "installation.suspended";

const PG_CLAIM = `
UPDATE "WebhookDelivery" SET "leaseUntil" = $2::timestamp(3)
WHERE id IN (
  SELECT d.id FROM "WebhookDelivery" d
  LEFT JOIN "Application" a ON a.id = d."applicationId"
  LEFT JOIN "Installation" i ON i.id = d."installationId"
  WHERE d.status = 'pending'
    AND d."nextAttemptAt" <= $1::timestamp(3)
    AND (d."leaseUntil" IS NULL OR d."leaseUntil" <= $1::timestamp(3))
    AND a."webhooksPausedAt" IS NULL
    AND (i.status IS DISTINCT FROM 'suspended' OR d.type = '${SUSPENDED}')
    AND (d."installationId" IS NULL OR NOT EXISTS (
      SELECT 1 FROM "WebhookDelivery" o
      WHERE o."installationId" = d."installationId" AND o.status = 'pending' AND o.id < d.id
        AND (i.status IS DISTINCT FROM 'suspended' OR o.type = '${SUSPENDED}')))
  ORDER BY d.id
  LIMIT $3::int
  FOR UPDATE OF d SKIP LOCKED)
RETURNING id`;

const APPLICATION_FIELDS = {
  id: true,
  webhookUrl: true,
  webhookSecretEncrypted: true,
  webhookSecretPreviousEncrypted: true,
  webhookSecretPreviousUntil: true,
} as const;

export function createOutboxStore(database: OutboxDatabase, kind: "sqlite" | "postgres"): OutboxStore {
  const { prisma } = database;

  /** The claimed rows, with their applications, oldest first. */
  async function load(db: Tx, ids: string[], lease: Date): Promise<ClaimedDelivery[]> {
    if (ids.length === 0) return [];
    const rows = await db.webhookDelivery.findMany({ where: { id: { in: ids }, leaseUntil: lease }, orderBy: { id: "asc" } });
    const applications = await db.application.findMany({
      where: { id: { in: [...new Set(rows.map((row) => row.applicationId))] } },
      select: APPLICATION_FIELDS,
    });
    const byId = new Map<string, DeliveryApplication>(applications.map(({ id, ...application }) => [id, application]));
    return rows.map((row) => ({
      id: row.id,
      applicationId: row.applicationId,
      installationId: row.installationId,
      type: row.type,
      payload: row.payload,
      codeEncrypted: row.codeEncrypted,
      codeId: row.codeId,
      codeExpiresAt: row.codeExpiresAt,
      attempts: row.attempts,
      createdAt: row.createdAt,
      redeliveredAt: row.redeliveredAt,
      leaseUntil: lease,
      application: byId.get(row.applicationId) ?? null,
    }));
  }

  async function claimPostgres(now: Date, lease: Date, limit: number): Promise<ClaimedDelivery[]> {
    // Timestamps as UTC ISO strings: the columns are timestamp without time zone.
    const claimed = await prisma.$queryRawUnsafe<{ id: string }[]>(PG_CLAIM, now.toISOString(), lease.toISOString(), limit);
    return load(
      prisma,
      claimed.map((row) => row.id),
      lease,
    );
  }

  /** The installations whose deliveries are held, and the condition that leaves those out. */
  async function notHeld(db: Tx) {
    const suspended = (await db.installation.findMany({ where: { status: "suspended" }, select: { id: true } })).map((i) => i.id);
    return suspended.length === 0 ? {} : { OR: [{ installationId: null }, { installationId: { notIn: suspended } }, { type: SUSPENDED }] };
  }

  /** The deliveries due now: unleased, of unpaused applications and unsuspended installations, each its installation's oldest pending one. */
  async function dueSqlite(now: Date, limit: number): Promise<string[]> {
    // A range rather than `not: null`, which SQLite answers by scanning every application.
    const paused = await prisma.application.findMany({ where: { webhooksPausedAt: { gte: new Date(0) } }, select: { id: true } });
    const held = await notHeld(prisma);
    const due = await prisma.webhookDelivery.findMany({
      where: {
        status: "pending",
        nextAttemptAt: { lte: now },
        AND: [{ OR: [{ leaseUntil: null }, { leaseUntil: { lte: now } }] }, held],
        ...(paused.length > 0 ? { applicationId: { notIn: paused.map((a) => a.id) } } : {}),
      },
      orderBy: { id: "asc" },
      select: { id: true, installationId: true },
      take: limit * 4,
    });
    const installations = [...new Set(due.flatMap((row) => (row.installationId ? [row.installationId] : [])))];
    const oldest = installations.length
      ? await prisma.webhookDelivery.groupBy({
          by: ["installationId"],
          where: { status: "pending", installationId: { in: installations }, ...held },
          _min: { id: true },
        })
      : [];
    const first = new Map(oldest.map((row) => [row.installationId, row._min.id]));
    return due
      .filter((row) => row.installationId === null || first.get(row.installationId) === row.id)
      .slice(0, limit)
      .map((row) => row.id);
  }

  async function claimSqlite(now: Date, lease: Date, limit: number): Promise<ClaimedDelivery[]> {
    // Which rows are due is a read (WAL: it never waits for a writer), so a poll that
    // finds nothing takes no write lock, and a transaction that reads and does not write
    // never tells the write lock's outage log that the database is available again while
    // another process holds the lock. The lease write is conditional: a row another
    // claimer took since the read stays theirs (load returns only rows with our lease),
    // and a later delivery of an installation is never due while an earlier one is pending.
    const ids = await dueSqlite(now, limit);
    if (ids.length === 0) return [];
    return database.transaction(async (tx) => {
      // Read again under the write lock: an installation suspended since holds its deliveries.
      const held = await notHeld(tx);
      await tx.webhookDelivery.updateMany({
        where: { id: { in: ids }, status: "pending", AND: [{ OR: [{ leaseUntil: null }, { leaseUntil: { lte: now } }] }, held] },
        data: { leaseUntil: lease },
      });
      return load(tx, ids, lease);
    });
  }

  return {
    claim: kind === "postgres" ? claimPostgres : claimSqlite,
    async codeIsValid(codeId, now) {
      const code = await prisma.authorizationCode.findFirst({
        where: { id: codeId, consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
        select: { id: true },
      });
      return code !== null;
    },
    async eraseCode(id) {
      await database.transaction((tx) => tx.webhookDelivery.updateMany({ where: { id }, data: { codeEncrypted: null } }));
    },
    async failureStreak(applicationId) {
      const success = await prisma.webhookDelivery.aggregate({ where: { applicationId, deliveredAt: { not: null } }, _max: { deliveredAt: true } });
      const lastSuccess = success._max.deliveredAt;
      const failing = await prisma.webhookDelivery.aggregate({
        where: {
          applicationId,
          status: { in: ["pending", "failed"] },
          attempts: { gt: 0 },
          ...(lastSuccess ? { lastAttemptAt: { gt: lastSuccess } } : {}),
        },
        _sum: { attempts: true },
        _min: { createdAt: true },
      });
      const first = failing._min.createdAt;
      const since = first === null ? null : lastSuccess && lastSuccess > first ? lastSuccess : first;
      return { failures: failing._sum.attempts ?? 0, since };
    },
    async record(id, lease, attempt) {
      const { count } = await database.transaction((tx) =>
        tx.webhookDelivery.updateMany({
          where: { id, leaseUntil: lease },
          data: { ...attempt, leaseUntil: null, ...(attempt.status === "pending" ? {} : { codeEncrypted: null }) },
        }),
      );
      return count === 1;
    },
  };
}
