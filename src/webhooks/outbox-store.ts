// The storage port of the delivery worker (src/webhooks/outbox.ts): what it needs of the
// WebhookDelivery rows, implemented for each database in src/storage/outbox-store.ts.

export interface DeliveryApplication {
  webhookUrl: string | null;
  webhookSecretEncrypted: string | null;
  webhookSecretPreviousEncrypted: string | null;
  webhookSecretPreviousUntil: Date | null;
}

/** A delivery this process has claimed: it owns it until `leaseUntil`. */
export interface ClaimedDelivery {
  id: string;
  applicationId: string;
  installationId: string | null;
  type: string;
  payload: string;
  codeEncrypted: string | null;
  codeId: string | null;
  codeExpiresAt: Date | null;
  attempts: number;
  createdAt: Date;
  /** The last redelivery an operator asked for (or resume, or unsuspension), if any: the give-up age counts from it. */
  redeliveredAt: Date | null;
  leaseUntil: Date;
  /** Null when the application was deleted since. */
  application: DeliveryApplication | null;
}

/** What one attempt leaves in the row. */
export interface AttemptRecord {
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastAttemptAt: Date;
  /** The webhook-timestamp the attempt signed and sent (whole seconds), null when it sent nothing. */
  lastWebhookTimestamp: Date | null;
  lastStatus: number | null;
  /** A code or a name (HTTP 500, timeout, ECONNREFUSED…), never a message, a URL or a secret. */
  lastError: string | null;
  lastDurationMs: number | null;
  lastResponse: string | null;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
}

export interface OutboxStore {
  /**
   * Claims up to `limit` due pending deliveries (nextAttemptAt ≤ now, no live lease) of
   * applications whose webhooks are not paused, at most one per installation and only
   * its oldest pending one (an installation's deliveries go in order), by setting their
   * lease to `leaseUntil`. Two processes never claim the same row at once.
   */
  claim(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]>;
  /** Whether the authorization code can still be exchanged: unconsumed, unrevoked, unexpired. */
  codeIsValid(codeId: string, now: Date): Promise<boolean>;
  /** Erases the sealed code of a delivery (the code is no longer valid). */
  eraseCode(id: string): Promise<void>;
  /**
   * The application's failures since its last successful delivery: the attempts of its
   * undelivered deliveries tried since then, and when the first of them was due.
   */
  failureStreak(applicationId: string): Promise<{ failures: number; since: Date | null }>;
  /**
   * Records an attempt and releases the lease; false when the lease was lost (another process owns the row).
   * An attempt that ends the delivery (delivered or failed) also erases its sealed code: sent or given
   * up, the row has no further use for it (a redelivery goes without it).
   */
  record(id: string, lease: Date, attempt: AttemptRecord): Promise<boolean>;
}
