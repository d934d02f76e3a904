// Installation webhooks (Sentry's installation.created / installation.deleted),
// delivered in the background so the admin response never waits on the receiver:
// signed, retried with exponential backoff and jitter, failures logged. Each attempt
// goes through the SSRF address policy (address-policy.ts, transport.ts); a refused
// destination is a permanent failure, logged once.
//
// Deliveries live in memory: a process that stops with deliveries still pending
// drops them (and logs how many). A durable outbox table is the upgrade path if a
// platform needs at-least-once delivery across restarts.
import type { Logger } from "../shared/logger.js";
import { randomUUID } from "node:crypto";
import { decrypt } from "../crypto/encryption.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import { isDatabaseUnavailable } from "../shared/database-unavailable.js";
import type { Db } from "../domain/ports.js";
import { WEBHOOK_SECRET_PURPOSE } from "../domain/applications.js";
import { AddressRefused, type WebhookAddressPolicy } from "../shared/webhook-address-policy.js";
import { SIGNATURE_HEADER, sign } from "./signature.js";
import { DnsTimeout, postWebhook, type Resolver, systemResolver } from "./transport.js";

export interface WebhookOptions {
  db: Db;
  secretKey: ServerKeys;
  log: Logger;
  /** Attempts in all (first try included). */
  attempts?: number;
  /** First retry delay; doubles each time (with ±20% jitter). */
  baseDelayMs?: number;
  timeoutMs?: number;
  /** Where deliveries may go (SSRF): checked on every address, at every attempt. */
  policy: WebhookAddressPolicy;
  /** Host name resolution (default: the system's); tests inject one. */
  resolver?: Resolver;
  /** Deadline of one resolution, within timeoutMs. */
  dnsTimeoutMs?: number;
}

/** What a log line says of a failed attempt: a code or a name, never a message (it could hold the URL). */
function describeFailure(error: unknown, signal: AbortSignal): string {
  if (error instanceof DnsTimeout) return "DNS timeout";
  if (signal.aborted) return "timeout";
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  return error instanceof Error ? error.name : "error";
}

export interface WebhookEvent {
  applicationId: string;
  action: "created" | "deleted";
  payload: Record<string, unknown>;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return undefined;
  }
}

export class WebhookDispatcher {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #timeoutMs: number;
  readonly #dnsTimeoutMs: number;
  readonly #resolver: Resolver;

  constructor(private readonly options: WebhookOptions) {
    this.#attempts = options.attempts ?? 6;
    this.#baseDelayMs = options.baseDelayMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#dnsTimeoutMs = Math.min(options.dnsTimeoutMs ?? 2000, this.#timeoutMs);
    this.#resolver = options.resolver ?? systemResolver;
  }

  /** Queues a delivery; returns at once. */
  send(event: WebhookEvent): void {
    this.#track(this.#prepare(event));
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  async #prepare(event: WebhookEvent): Promise<void> {
    const { log } = this.options;
    try {
      const application = await this.options.db.application.findUnique({
        where: { id: event.applicationId },
        select: { webhookUrl: true, webhookSecretEncrypted: true },
      });
      if (!application?.webhookUrl) return;
      if (!application.webhookSecretEncrypted) {
        log.error({ applicationId: event.applicationId }, "webhook not sent: the application has no webhook secret");
        return;
      }
      const secret = decrypt(this.options.secretKey, WEBHOOK_SECRET_PURPOSE, application.webhookSecretEncrypted);
      const body = JSON.stringify({ action: event.action, ...event.payload });
      const delivery = { id: randomUUID(), url: application.webhookUrl, secret, body, applicationId: event.applicationId, action: event.action };
      await this.#attempt(delivery, 1);
    } catch (error) {
      // The event is lost either way; a database outage is described once, by the database's status.
      const cause = isDatabaseUnavailable(error) ? { reason: "database unavailable" } : { err: error };
      log.error({ ...cause, applicationId: event.applicationId, action: event.action }, "webhook delivery could not be prepared");
    }
  }

  async #attempt(
    delivery: { id: string; url: string; secret: string; body: string; applicationId: string; action: string },
    attempt: number,
  ): Promise<void> {
    const { log } = this.options;
    const context = { deliveryId: delivery.id, applicationId: delivery.applicationId, action: delivery.action, attempt };
    let failure: string;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      const status = await postWebhook(delivery.url, {
        headers: {
          "content-type": "application/json",
          "user-agent": "appgrant-webhooks",
          "appgrant-event": `installation.${delivery.action}`,
          "appgrant-delivery": delivery.id,
          [SIGNATURE_HEADER]: sign(delivery.secret, Math.floor(Date.now() / 1000), delivery.body),
        },
        body: delivery.body,
        policy: this.options.policy,
        resolver: this.#resolver,
        dnsTimeoutMs: this.#dnsTimeoutMs,
        signal,
      });
      if (status >= 200 && status < 300) {
        log.info(context, "webhook delivered");
        return;
      }
      failure = `HTTP ${status}`;
    } catch (error) {
      if (error instanceof AddressRefused) {
        // Permanent: the same URL under the same policy is refused again. The reason names the address, not the URL (its path may hold a token).
        log.error({ ...context, host: hostOf(delivery.url), reason: error.reason }, "webhook delivery refused by the address policy; not retried");
        return;
      }
      failure = describeFailure(error, signal);
    }
    if (attempt >= this.#attempts) {
      log.error({ ...context, failure }, "webhook delivery failed; giving up");
      return;
    }
    const delay = this.#baseDelayMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
    log.warn({ ...context, failure, retryInMs: Math.round(delay) }, "webhook delivery failed; will retry");
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#track(this.#attempt(delivery, attempt + 1));
    }, delay);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Waits for deliveries in progress; drops scheduled retries (logged). */
  async close(): Promise<void> {
    if (this.#timers.size > 0) this.options.log.warn({ dropped: this.#timers.size }, "webhook retries dropped at shutdown");
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#inFlight]);
  }
}
