// The Redis connection behind the shared rate limits, and the circuit breaker in
// front of it. Redis only makes the limits shared between processes: when it is
// slow or gone, a request must not wait for it. So every step has a deadline
// (connect, each command; no offline queue, nothing resent after a reconnection),
// and after one failure the breaker stops asking Redis: the callers use their
// fallback (per-process counting) at once, while a background probe asks Redis
// again every second and closes the breaker when it answers. A request therefore
// waits for Redis at most once per outage, and only if it was already asking when
// the outage began. The outage is logged twice (DependencyStatus), never per
// request or per reconnection attempt.
import { Redis } from "ioredis";
import { DependencyStatus, type StatusLogger } from "../shared/dependency-status.js";

const PROBE_INTERVAL_MS = 1000;

export class RedisLink {
  readonly status: DependencyStatus;
  #open = false;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly redis: Redis,
    log: StatusLogger,
    private readonly probeIntervalMs = PROBE_INTERVAL_MS,
  ) {
    this.status = new DependencyStatus("redis", log);
    redis.on("error", (error: Error) => this.failed(error));
    // A reconnection is a hint that Redis is back: probe now rather than at the next tick.
    redis.on("ready", () => {
      if (this.#open) this.#scheduleProbe(0);
    });
  }

  /**
   * `operation` on Redis, or `fallback` when the breaker is open or the operation
   * fails (its own deadline is the command timeout). Never rejects because of Redis.
   */
  async attempt<T>(operation: (redis: Redis) => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
    if (this.#open) {
      this.status.failed("circuit open");
      return fallback();
    }
    let result: T;
    try {
      result = await operation(this.redis);
    } catch (error) {
      this.failed(error);
      return fallback();
    }
    // A late answer while the breaker is open does not end the outage: the probe does.
    if (!this.#open) this.status.succeeded();
    return result;
  }

  /** Opens the breaker (a failed command, or an 'error' event of the connection). */
  failed(error: unknown): void {
    if (this.#closed) return;
    this.status.failed(error);
    if (this.#open) return;
    this.#open = true;
    this.#scheduleProbe(this.probeIntervalMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#probe);
    // QUIT has the command deadline too; a connection that cannot even say goodbye is cut.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  #scheduleProbe(ms: number): void {
    clearTimeout(this.#probe);
    if (this.#closed) return;
    this.#probe = setTimeout(() => {
      this.redis.ping().then(
        () => {
          if (this.#closed) return;
          this.#open = false;
          this.status.succeeded();
        },
        () => this.#scheduleProbe(this.probeIntervalMs),
      );
    }, ms);
    this.#probe.unref();
  }
}

export interface RedisOptions {
  /** Milliseconds for each step: the TCP/TLS connection, each command. */
  timeoutMs: number;
  log: StatusLogger;
}

/**
 * Connects to Redis for the shared rate limits. Unreachable at start: refuse to start
 * (a wrong REDIS_URL must be loud), within a deadline (four times the timeout, at
 * least 2 s). Lost later: the limits fall back to per-process counting (RedisLink).
 */
export async function connectRedis(url: string, { timeoutMs, log }: RedisOptions): Promise<RedisLink> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // A connection that stops answering (a dead peer sends no reset) is replaced, not waited on.
    socketTimeout: Math.max(2 * timeoutMs, 1000),
    keepAlive: 10_000,
    // Fail at once while disconnected, and never replay a command after a reconnection:
    // a counter increment the caller already gave up on must not be applied late.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let startError: unknown;
  // Listening from the start: an 'error' event without a listener would end the process.
  const recordStartError = (error: Error) => (startError ??= error);
  redis.on("error", recordStartError);
  // Connecting is a few round trips (TCP/TLS, AUTH, the ready check), each bounded by the
  // timeout; the whole is bounded too, more loosely: a slow start must not be mistaken for
  // a wrong REDIS_URL.
  const startMs = Math.max(4 * timeoutMs, 2000);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${startMs} ms`)), startMs);
  });
  const connecting = redis.connect();
  connecting.catch(() => undefined);
  try {
    await Promise.race([connecting, deadline]);
  } catch (error) {
    // Late errors of the abandoned connection must still find a listener.
    redis.on("error", () => undefined);
    redis.disconnect();
    const cause = startError ?? error;
    throw new Error(`REDIS_URL: cannot connect to Redis: ${cause instanceof Error ? cause.message : String(cause)}`);
  } finally {
    clearTimeout(timer);
    redis.off("error", recordStartError);
  }
  return new RedisLink(redis, log);
}

/**
 * Values in Redis under `prefix`, kept `ttlSeconds`, shared by the processes. It fails
 * soft, through the breaker: while Redis is unavailable every name is unknown.
 */
export function redisMemory(
  link: RedisLink,
  prefix: string,
  ttlSeconds: number,
): { get(name: string): Promise<string | undefined>; set(name: string, value: string): Promise<void> } {
  return {
    get: (name) =>
      link.attempt(
        async (redis) => (await redis.get(prefix + name)) ?? undefined,
        () => undefined,
      ),
    set: (name, value) =>
      link.attempt(
        async (redis) => {
          await redis.set(prefix + name, value, "EX", ttlSeconds);
        },
        () => undefined,
      ),
  };
}
