// The delivery worker: sends the WebhookDelivery rows (the outbox) that events write in
// the transaction of their change (src/domain/events.ts). Every server process runs
// one. A row is claimed with a lease (two processes never send the same attempt at
// once), sent through the SSRF-checked transport, and its attempt recorded in the row:
// delivered, or retried with exponential backoff and jitter until the give-up age,
// then failed. A process killed mid-send leaves its rows leased: once the lease ends,
// any process sends them again (at least once; the webhook-id lets receivers dedupe).
// An installation's deliveries go in order: only its oldest pending one is claimable.
//
// Scheduling reads the injected clock (tests move it); the webhook-timestamp header is
// the wall clock, which is what the receiver checks it against.
import { decrypt } from "../crypto/encryption.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import { WEBHOOK_SECRET_PURPOSE } from "../domain/applications.js";
import { WEBHOOK_CONTENT_TYPE, WEBHOOK_USER_AGENT } from "../domain/deliveries.js";
import { WEBHOOK_CODE_PURPOSE } from "../domain/events.js";
import { DatabaseUnavailableError, isDatabaseUnavailable } from "../shared/database-unavailable.js";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";
import { APPGRANT_ATTR, ATTR, NO_SPAN, NO_TRACING, type Span, type Tracing } from "../shared/tracing.js";
import type { Clock } from "../shared/time.js";
import { AddressRefused, type WebhookAddressPolicy } from "../shared/webhook-address-policy.js";
import type { AttemptRecord, ClaimedDelivery, DeliveryApplication, OutboxStore } from "./outbox-store.js";
import { signDelivery } from "./signature.js";
import { DnsTimeout, postWebhook, type Resolver, systemResolver } from "./transport.js";

export interface WebhookSettings {
  /** How often the worker looks for due deliveries (others' and retries); its own are sent at once. */
  pollMs?: number;
  /** Deadline of one attempt: DNS, connect, response. */
  timeoutMs?: number;
  /** Deadline of one resolution, within timeoutMs. */
  dnsTimeoutMs?: number;
  /** First retry delay (clock time); doubles per attempt, ±20% jitter, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Age after which an undelivered delivery is given up (failed). */
  giveUpAfterMs?: number;
  /** Attempts in all before giving up, whatever the age (default: no limit, the age decides). */
  attempts?: number;
  /** Deliveries claimed (and sent concurrently) per round. */
  batchSize?: number;
  /** Deadline of each database call. */
  dbTimeoutMs?: number;
  /** Host name resolution (default: the system's); tests inject one. */
  resolver?: Resolver;
  /** An application is paused after this many failed attempts in a row… */
  pauseAfterFailures?: number;
  /** …spanning at least this long (clock time) with no success. */
  pauseAfterMs?: number;
}

export interface DeliveryWorkerOptions extends WebhookSettings {
  store: OutboxStore;
  secretKey: ServerKeys;
  clock: Clock;
  log: Logger;
  /** Where deliveries may go (SSRF): checked on every address, at every attempt. */
  policy: WebhookAddressPolicy;
  /** Pauses the application's webhooks (and records application.webhooks_paused); true when it did. */
  pause?: (applicationId: string, streak: { failures: number; since: Date }) => Promise<boolean>;
  /** Where attempts are counted by outcome (src/shared/metrics.ts). */
  metrics?: Metrics;
  /** Where each attempt is a client span (src/shared/tracing.ts). */
  tracing?: Tracing;
}

const REFUSED = "webhook delivery refused by the address policy; not retried";

/** What is recorded and logged of a failed attempt: a code or a name, never a message (it could hold the URL). */
function describeFailure(error: unknown, signal: AbortSignal): string {
  if (error instanceof DnsTimeout) return "DNS timeout";
  if (signal.aborted) return "timeout";
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  return error instanceof Error ? error.name : "error";
}

/**
 * The attempt's client span. Its URL is the scheme, host and port only: the path of a
 * webhook URL may hold a token (as chat services' incoming-webhook URLs do), the query
 * often does, and neither the signature nor the payload is ever recorded.
 */
function attemptSpan(tracing: Tracing, url: string, delivery: ClaimedDelivery, attempt: number): Span {
  let target: URL | undefined;
  try {
    target = new URL(url);
  } catch {
    target = undefined;
  }
  const port = target === undefined ? undefined : target.port !== "" ? Number(target.port) : target.protocol === "https:" ? 443 : 80;
  return tracing.client("POST", {
    [ATTR.httpRequestMethod]: "POST",
    [ATTR.urlFull]: target === undefined ? undefined : `${target.protocol}//${target.host}/`,
    [ATTR.urlScheme]: target?.protocol.replace(/:$/, ""),
    [ATTR.serverAddress]: target?.hostname.replace(/^\[|\]$/g, ""),
    [ATTR.serverPort]: port,
    [ATTR.httpRequestResendCount]: attempt > 1 ? attempt - 1 : undefined,
    [APPGRANT_ATTR.deliveryId]: delivery.id,
    [APPGRANT_ATTR.eventType]: delivery.type,
    [APPGRANT_ATTR.applicationId]: delivery.applicationId,
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined;
  }
}

/** `promise`, or a DatabaseUnavailableError after `ms` (the call is abandoned, not cancelled). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`no answer from the database in ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export class DeliveryWorker {
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #dnsTimeoutMs: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #giveUpAfterMs: number;
  readonly #attempts: number;
  readonly #batchSize: number;
  readonly #dbTimeoutMs: number;
  readonly #resolver: Resolver;
  readonly #pauseAfterFailures: number;
  readonly #pauseAfterMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #databaseDown = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.#pollMs = options.pollMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#dnsTimeoutMs = Math.min(options.dnsTimeoutMs ?? 2000, this.#timeoutMs);
    this.#baseDelayMs = options.baseDelayMs ?? 10_000;
    this.#maxDelayMs = options.maxDelayMs ?? 3_600_000;
    this.#giveUpAfterMs = options.giveUpAfterMs ?? 72 * 3_600_000;
    this.#attempts = options.attempts ?? Number.POSITIVE_INFINITY;
    this.#batchSize = options.batchSize ?? 10;
    this.#dbTimeoutMs = options.dbTimeoutMs ?? 5000;
    this.#resolver = options.resolver ?? systemResolver;
    this.#pauseAfterFailures = options.pauseAfterFailures ?? 20;
    this.#pauseAfterMs = options.pauseAfterMs ?? 24 * 3_600_000;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** A delivery was just recorded in this process: look now rather than at the next poll. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#run();
  }

  /**
   * Resolves once no round is in progress: the attempts claimed so far are sent and recorded,
   * and so is what followed from them (a pause of the application's webhooks). A round that
   * starts later is not waited for.
   */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops claiming and waits for the attempts in progress to be sent and recorded. Unsent rows stay pending. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), ms);
    this.#timer.unref();
  }

  #run(): void {
    // Outside the context of the request whose write woke the worker: each attempt is a trace of its own.
    this.#running = (this.options.tracing ?? NO_TRACING)
      .within(NO_SPAN, () => this.#loop())
      .finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule(this.#again ? 0 : this.#pollMs);
        this.#again = false;
      });
  }

  async #loop(): Promise<void> {
    for (;;) {
      this.#again = false;
      const claimed = await this.#round();
      if (this.#stopped || (claimed < this.#batchSize && !this.#again)) return;
    }
  }

  /** One claim and its sends; the number of deliveries claimed. Never throws. */
  async #round(): Promise<number> {
    const now = this.options.clock();
    // Long enough for the attempt and its record; a process killed meanwhile frees the row when it ends.
    const lease = new Date(now.getTime() + this.#timeoutMs + 2 * this.#dbTimeoutMs + 1000);
    let claimed: ClaimedDelivery[];
    try {
      claimed = await within(this.options.store.claim(now, lease, this.#batchSize), this.#dbTimeoutMs);
      if (this.#databaseDown) {
        this.#databaseDown = false;
        this.options.log.info("webhook deliveries resumed: the database answers again");
      }
    } catch (error) {
      this.#databaseFailed(error);
      return 0;
    }
    await Promise.all(claimed.map((delivery) => this.#deliver(delivery)));
    return claimed.length;
  }

  #databaseFailed(error: unknown): void {
    if (this.#databaseDown) return;
    this.#databaseDown = true;
    const message = "webhook deliveries waiting: the outbox could not be read; retrying";
    // An unavailable database is already logged as an outage, once, by its own status
    // (src/shared/dependency-status.ts): this line only says what waits, so it is a warning.
    if (isDatabaseUnavailable(error)) this.options.log.warn({ reason: "database unavailable" }, message);
    else this.options.log.error({ err: error }, message);
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    try {
      await this.#attempt(delivery);
    } catch (error) {
      // The row keeps its lease and is sent again once it ends.
      this.#databaseFailed(error);
    }
  }

  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    const { log, store, clock } = this.options;
    const attempt = delivery.attempts + 1;
    const context = { deliveryId: delivery.id, applicationId: delivery.applicationId, type: delivery.type, attempt };
    const now = clock();
    const application = delivery.application;
    const record = (fields: Partial<AttemptRecord> & Pick<AttemptRecord, "status">) =>
      within(
        store.record(delivery.id, delivery.leaseUntil, {
          attempts: attempt,
          lastAttemptAt: now,
          lastWebhookTimestamp: null,
          lastStatus: null,
          lastError: null,
          lastDurationMs: null,
          lastResponse: null,
          nextAttemptAt: now,
          deliveredAt: null,
          ...fields,
        }),
        this.#dbTimeoutMs,
      );

    if (!application?.webhookUrl || !application.webhookSecretEncrypted) {
      const reason = !application ? "application_deleted" : !application.webhookUrl ? "no_webhook_url" : "no_webhook_secret";
      await record({ status: "failed", lastError: reason });
      log.warn({ ...context, failure: reason }, "webhook delivery dropped: the application no longer has a webhook");
      return;
    }
    const secrets = this.#secrets(application, now);
    if (secrets === undefined) {
      // The server key that sealed it was removed from the list (before `keys reencrypt`): retried
      // with backoff like any failure, so putting the key back delivers it; given up at the age.
      const failure = "webhook secret unreadable";
      const { status, nextAttemptAt } = this.#retry(delivery, attempt, now);
      await record({ status, lastError: failure, nextAttemptAt });
      log.error(
        { ...context, failure },
        "webhook delivery failed: no configured server key opens the application's webhook secret; put the key that sealed it back in APPGRANT_SECRET_KEY, or rotate the webhook secret",
      );
      return;
    }
    const body = await this.#body(delivery, now, context);
    const url = application.webhookUrl;

    const signed = signDelivery(secrets, delivery.id, new Date(), body);
    // Recorded with the attempt, so the admin API shows the request as it was sent (src/domain/deliveries.ts).
    const lastWebhookTimestamp = new Date(Number(signed["webhook-timestamp"]) * 1000);
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const started = performance.now();
    const span = attemptSpan(this.options.tracing ?? NO_TRACING, url, delivery, attempt);
    let failure: string;
    let response: { status: number; body: string } | undefined;
    try {
      response = await postWebhook(url, {
        headers: { "content-type": WEBHOOK_CONTENT_TYPE, "user-agent": WEBHOOK_USER_AGENT, ...signed },
        body,
        policy: this.options.policy,
        resolver: this.#resolver,
        dnsTimeoutMs: this.#dnsTimeoutMs,
        signal,
      });
      failure = response.status >= 200 && response.status < 300 ? "" : `HTTP ${response.status}`;
      span.setAttribute(ATTR.httpResponseStatusCode, response.status);
      if (failure !== "") span.fail(String(response.status));
    } catch (error) {
      span.fail(error instanceof AddressRefused ? "address_refused" : describeFailure(error, signal));
      if (error instanceof AddressRefused) {
        // Permanent: the same URL under the same policy is refused again. The reason names the address, not the URL (its path may hold a token).
        await record({ status: "failed", lastError: "address refused", lastDurationMs: Math.round(performance.now() - started) });
        this.options.metrics?.webhookAttempt("failed");
        log.error({ ...context, host: hostOf(url), reason: error.reason }, REFUSED);
        return;
      }
      failure = describeFailure(error, signal);
    } finally {
      span.end();
    }
    const measured = {
      lastWebhookTimestamp,
      lastStatus: response?.status ?? null,
      lastDurationMs: Math.round(performance.now() - started),
      lastResponse: response?.body ?? null,
    };
    if (failure === "") {
      await record({ status: "delivered", ...measured, deliveredAt: now });
      this.options.metrics?.webhookAttempt("delivered");
      log.info(context, "webhook delivered");
      return;
    }
    const { status, nextAttemptAt } = this.#retry(delivery, attempt, now);
    await record({ status, ...measured, lastError: failure, nextAttemptAt });
    this.options.metrics?.webhookAttempt(status === "failed" ? "failed" : "retry");
    if (status === "failed") {
      log.error({ ...context, failure }, "webhook delivery failed; giving up");
      return;
    }
    log.warn({ ...context, failure, retryInMs: nextAttemptAt.getTime() - now.getTime() }, "webhook delivery failed; will retry");
    await this.#pauseIfFailing(delivery.applicationId, now);
  }

  /**
   * After a failed attempt: the next one, with exponential backoff and jitter, or none (failed)
   * past the attempt limit or the give-up age, which counts from the last redelivery if any.
   * A backoff that would overshoot the give-up age ends with one last attempt at it (unless
   * that is sooner than the first retry delay): a redelivery, whose backoff is long already
   * from the attempts before it, still gets its retries.
   */
  #retry(delivery: ClaimedDelivery, attempt: number, now: Date): { status: "pending" | "failed"; nextAttemptAt: Date } {
    const failed = { status: "failed" as const, nextAttemptAt: now };
    if (attempt >= this.#attempts) return failed;
    const delay = Math.round(Math.min(this.#baseDelayMs * 2 ** (attempt - 1), this.#maxDelayMs) * (0.8 + Math.random() * 0.4));
    const deadline = (delivery.redeliveredAt ?? delivery.createdAt).getTime() + this.#giveUpAfterMs;
    const next = now.getTime() + delay;
    if (next <= deadline) return { status: "pending", nextAttemptAt: new Date(next) };
    if (deadline - now.getTime() >= this.#baseDelayMs) return { status: "pending", nextAttemptAt: new Date(deadline) };
    return failed;
  }

  /** The secrets that sign: the current one and, during a rotation's overlap, the previous one; undefined if the current one cannot be opened. */
  #secrets(application: DeliveryApplication, now: Date): string[] | undefined {
    const opened = (sealed: string) => {
      try {
        return decrypt(this.options.secretKey, WEBHOOK_SECRET_PURPOSE, sealed);
      } catch {
        return undefined;
      }
    };
    const current = opened(application.webhookSecretEncrypted!);
    if (current === undefined) return undefined;
    const secrets = [current];
    if (application.webhookSecretPreviousEncrypted && application.webhookSecretPreviousUntil && application.webhookSecretPreviousUntil > now) {
      // A previous secret no key opens only loses its signature: the current one still signs.
      const previous = opened(application.webhookSecretPreviousEncrypted);
      if (previous !== undefined) secrets.push(previous);
    }
    return secrets;
  }

  /** After a failure: an endpoint failing for long enough has its webhooks paused until an operator resumes them. */
  async #pauseIfFailing(applicationId: string, now: Date): Promise<void> {
    if (!this.options.pause) return;
    const streak = await within(this.options.store.failureStreak(applicationId), this.#dbTimeoutMs);
    if (streak.since === null || streak.failures < this.#pauseAfterFailures || now.getTime() - streak.since.getTime() < this.#pauseAfterMs) return;
    if (await within(this.options.pause(applicationId, { failures: streak.failures, since: streak.since }), this.#dbTimeoutMs)) {
      this.options.log.error(
        { applicationId, failures: streak.failures, failingSince: streak.since },
        "webhooks paused: the endpoint keeps failing; resume with PATCH /admin/v1/applications/{id} {webhooks_paused: false}",
      );
    }
  }

  /**
   * The body to send: the stored payload, with the installation's code added to its data
   * while the code can still be exchanged. Once it cannot, the sealed code is erased.
   */
  async #body(delivery: ClaimedDelivery, now: Date, context: object): Promise<string> {
    if (!delivery.codeEncrypted) return delivery.payload;
    const valid =
      delivery.codeId !== null &&
      delivery.codeExpiresAt !== null &&
      delivery.codeExpiresAt > now &&
      (await within(this.options.store.codeIsValid(delivery.codeId, now), this.#dbTimeoutMs));
    if (!valid) {
      await within(this.options.store.eraseCode(delivery.id), this.#dbTimeoutMs);
      return delivery.payload;
    }
    let code: string;
    try {
      code = decrypt(this.options.secretKey, WEBHOOK_CODE_PURPOSE, delivery.codeEncrypted);
    } catch {
      // Sealed under a server key no longer configured: sent without it, as once it is no longer valid.
      this.options.log.error(
        { ...context, failure: "code unreadable" },
        "webhook delivery: no configured server key opens its code; sent without it",
      );
      await within(this.options.store.eraseCode(delivery.id), this.#dbTimeoutMs);
      return delivery.payload;
    }
    const payload = JSON.parse(delivery.payload) as { data: Record<string, unknown> };
    return JSON.stringify({ ...payload, data: { ...payload.data, code, code_expires_at: delivery.codeExpiresAt } });
  }
}
