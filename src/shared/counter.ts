// Fixed-window counters for the rate limits (src/http/oauth/rate-limit.ts). This one
// counts in process memory and reads the injected clock, so tests move windows
// instead of sleeping; src/storage/rate-limit-counter.ts counts in Redis.
export interface Count {
  /** Hits in the current window. */
  count: number;
  /** Milliseconds until the window ends (0: no window open). */
  ttlMs: number;
}

export interface Counter {
  /** Counts one hit on `key`; the window opens with the first hit. */
  hit(key: string, windowMs: number): Promise<Count>;
  /** Takes back one hit on `key` in its current window (if none is open, nothing). */
  refund(key: string): Promise<void>;
}

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

  async refund(key: string): Promise<void> {
    const window = this.#windows.get(key);
    if (window !== undefined && window.endsAt > this.now() && window.count > 0) window.count--;
  }
}
