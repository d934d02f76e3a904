// Fixed-window counters for the rate limits: in process memory, or in Redis (shared
// by every process) with the memory counter as the fallback while Redis is
// unavailable (see src/redis.ts for the breaker). The memory counter reads the
// injected clock, so tests move windows instead of sleeping.
import type { Redis } from "ioredis";
import type { RedisLink } from "../redis.js";

export interface Count {
  /** Hits in the current window. */
  count: number;
  /** Milliseconds until the window ends (0: no window open). */
  ttlMs: number;
}

export interface Counter {
  /** Counts one hit on `key`; the window opens with the first hit. */
  hit(key: string, windowMs: number): Promise<Count>;
  /** The current count, without counting. */
  peek(key: string): Promise<Count>;
}

const NONE: Count = { count: 0, ttlMs: 0 };

/**
 * Bounded: past `maxKeys` the least recently hit key is forgotten, so a flood of
 * distinct keys (made-up client ids) cannot grow the process without limit.
 */
export class MemoryCounter implements Counter {
  readonly #windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  async hit(key: string, windowMs: number): Promise<Count> {
    const now = this.now();
    let window = this.#windows.get(key);
    this.#windows.delete(key);
    if (window === undefined || window.endsAt <= now) window = { count: 0, endsAt: now + windowMs };
    window.count++;
    this.#windows.set(key, window);
    if (this.#windows.size > this.maxKeys) this.#windows.delete(this.#windows.keys().next().value!);
    return { count: window.count, ttlMs: window.endsAt - now };
  }

  async peek(key: string): Promise<Count> {
    const now = this.now();
    const window = this.#windows.get(key);
    return window === undefined || window.endsAt <= now ? NONE : { count: window.count, ttlMs: window.endsAt - now };
  }
}

// One round trip each; the window's expiry is set by the hit that opens it (and
// repaired if a key ever lost it, so that no counter can live forever).
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;
const PEEK = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {count, ttl}
`;

interface CounterCommands {
  appgrantHit(key: string, windowMs: number): Promise<[number, number]>;
  appgrantPeek(key: string): Promise<[number, number]>;
}

/** Counts in Redis; while Redis is unavailable, in `fallback` (per process: the limits hold per process). */
export class RedisCounter implements Counter {
  readonly #commands: CounterCommands;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly fallback: Counter,
  ) {
    const redis: Redis = link.redis;
    if (!("appgrantHit" in redis)) {
      redis.defineCommand("appgrantHit", { numberOfKeys: 1, lua: HIT });
      redis.defineCommand("appgrantPeek", { numberOfKeys: 1, lua: PEEK });
    }
    this.#commands = redis as unknown as CounterCommands;
  }

  hit(key: string, windowMs: number): Promise<Count> {
    return this.link.attempt(
      async () => toCount(await this.#commands.appgrantHit(this.prefix + key, windowMs)),
      () => this.fallback.hit(key, windowMs),
    );
  }

  peek(key: string): Promise<Count> {
    return this.link.attempt(
      async () => toCount(await this.#commands.appgrantPeek(this.prefix + key)),
      () => this.fallback.peek(key),
    );
  }
}

function toCount([count, ttlMs]: [number, number]): Count {
  return { count, ttlMs };
}
