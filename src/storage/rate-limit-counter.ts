// The rate limits' fixed-window counter in Redis, shared by every process, with the
// memory counter (src/shared/counter.ts) as the fallback while Redis is unavailable
// (see src/storage/redis.ts for the breaker).
import type { Redis } from "ioredis";
import type { Count, Counter } from "../shared/counter.js";
import type { RedisLink } from "./redis.js";

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
// DECR keeps the key's expiry; a window that ended (no key) is left alone.
const REFUND = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
`;

interface CounterCommands {
  appgrantHit(key: string, windowMs: number): Promise<[number, number]>;
  appgrantRefund(key: string): Promise<number>;
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
      redis.defineCommand("appgrantRefund", { numberOfKeys: 1, lua: REFUND });
    }
    this.#commands = redis as unknown as CounterCommands;
  }

  hit(key: string, windowMs: number): Promise<Count> {
    return this.link.attempt(
      async () => toCount(await this.#commands.appgrantHit(this.prefix + key, windowMs)),
      () => this.fallback.hit(key, windowMs),
    );
  }

  refund(key: string): Promise<void> {
    return this.link.attempt(
      async () => {
        await this.#commands.appgrantRefund(this.prefix + key);
      },
      () => this.fallback.refund(key),
    );
  }
}

function toCount([count, ttlMs]: [number, number]): Count {
  return { count, ttlMs };
}
