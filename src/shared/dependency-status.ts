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

export class DependencyStatus {
  #outage: Outage | undefined;

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

/** One line, no stack: the error's code and message (drivers' messages carry no credential). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
