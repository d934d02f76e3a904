// The state of one dependency (the database, Redis) as the requests that use it
// see it: up, or down since the first failure. An outage is logged twice, once
// when it starts (with the first error's message, no stack) and once when it ends
// (how long, how many failures), instead of one line with a stack per failed
// request: a 10-second database outage under load used to write thousands.

export interface StatusLogger {
  error(object: Record<string, unknown>, message: string): void;
  info(object: Record<string, unknown>, message: string): void;
}

export interface Outage {
  since: Date;
  failures: number;
  firstError: string;
}

/** Why a call failed, as a bounded metrics label. */
export type FailureKind = "timeout" | "lock" | "connection" | "circuit_open";

export class DependencyStatus {
  #outage: Outage | undefined;
  /** Failed calls since the process started, by kind: read by the metrics at each scrape. */
  readonly failures = new Map<FailureKind, number>();

  constructor(
    readonly name: string,
    private readonly log: StatusLogger,
    private readonly now: () => number = Date.now,
  ) {}

  get up(): boolean {
    return this.#outage === undefined;
  }

  /** The current outage, if the dependency is down. */
  get outage(): Readonly<Outage> | undefined {
    return this.#outage;
  }

  /** A call failed because the dependency is unreachable or did not answer in time. */
  failed(error: unknown): void {
    const kind = failureKind(error);
    this.failures.set(kind, (this.failures.get(kind) ?? 0) + 1);
    if (this.#outage) {
      this.#outage.failures++;
      return;
    }
    const firstError = describe(error);
    this.#outage = { since: new Date(this.now()), failures: 1, firstError };
    this.log.error({ dependency: this.name, error: firstError }, `${this.name} unavailable`);
  }

  /** A call succeeded: ends the outage, if there was one. */
  succeeded(): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = undefined;
    const seconds = Math.round((this.now() - outage.since.getTime()) / 100) / 10;
    this.log.info(
      { dependency: this.name, downSeconds: seconds, failures: outage.failures, firstError: outage.firstError },
      `${this.name} available again`,
    );
  }
}

const TIMEOUT = /^(ETIMEDOUT|57014|25P03|55P03|P1002|P1008|P2024)$/;

/**
 * The kind of an unavailability: a deadline passed (a statement, a connection, a pool
 * wait, a Redis command), SQLite's write lock stayed taken, Redis was not asked (its
 * circuit breaker is open), or else the connection failed or was lost.
 */
export function failureKind(error: unknown): FailureKind {
  if (error === "circuit open") return "circuit_open";
  for (let layer = error, depth = 0; layer instanceof Error && depth < 5; layer = layer.cause, depth++) {
    const code = (layer as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) return "lock";
    if (typeof code === "string" && TIMEOUT.test(code)) return "timeout";
    if (/timeout|timed out|not free within/i.test(layer.message)) return /write lock/.test(layer.message) ? "lock" : "timeout";
  }
  return "connection";
}

/** One line, no stack: the error's code and message (drivers' messages carry no credential). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
