// One writer at a time within the process, for SQLite, and a bounded, asynchronous
// wait for the write lock when another process holds it.
//
// Prisma's interactive transactions hold SQLite's write lock across awaits, while
// the token endpoint writes synchronously through its own better-sqlite3 connection
// (src/storage/sqlite-token-store.ts). If the synchronous writer met the lock held by
// an open Prisma transaction it would busy-wait on the event loop that transaction
// needs in order to finish. Queuing every write transaction here makes that
// impossible. PostgreSQL has real row locks and does not use this.
//
// Another process (the CLI, a backup, a second server by mistake) can still hold the
// lock. better-sqlite3 would wait for it synchronously (its busy timeout), freezing
// the event loop: health checks, reads and every other client. So the process's
// connections have a busy timeout of 0, and a write that finds the lock taken is
// retried here, after a short timer, until its deadline (counted from when it was
// queued, so the wait in the queue counts too). Past it, the write fails with a
// DatabaseUnavailableError: the request gets 503 + Retry-After.
import type { DependencyStatus } from "../shared/dependency-status.js";
import { DatabaseUnavailableError, isSqliteBusy } from "../shared/database-unavailable.js";

// Short: another process's transactions are short too (the purge's batches aim at
// ~10 ms and leave as long free after each), and a retry that fails costs microseconds.
// A longer step would keep missing the gaps between another process's transactions.
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 5;

export interface WriteLockOptions {
  /** ms a write may wait for the lock, queue included. */
  deadlineMs: number;
  /** Told when a write gave up on the lock, and when one got it again. */
  status?: DependencyStatus;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the metrics read at each scrape (src/main/metrics.ts). */
export interface WriteLockStats {
  /** Writes queued or running now. */
  queued: number;
  /** Writes that got the lock, since the process started. */
  writes: number;
  /** Of those, writes that found another process holding it at least once. */
  contended: number;
  /** Seconds writes waited for the lock in all, the queue included. */
  waitSeconds: number;
}

export class WriteLock {
  #tail: Promise<unknown> = Promise.resolve();
  readonly stats: WriteLockStats = { queued: 0, writes: 0, contended: 0, waitSeconds: 0 };

  constructor(private readonly options: WriteLockOptions = { deadlineMs: 3000 }) {}

  /**
   * Runs `fn` once every write queued before it has finished. `fn` must be safe to run
   * again after it failed on SQLITE_BUSY: a synchronous better-sqlite3 transaction or a
   * Prisma transaction, both rolled back by then.
   */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const queuedAt = performance.now();
    const deadline = queuedAt + this.options.deadlineMs;
    this.stats.queued++;
    const result = this.#tail.then(() => this.#attempt(fn, queuedAt, deadline));
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #attempt<T>(fn: () => T | Promise<T>, queuedAt: number, deadline: number): Promise<T> {
    const { stats } = this;
    // The time to the start of the attempt that succeeds is the wait: a failed attempt
    // (SQLITE_BUSY) rolled back and waits on.
    let startedAt = performance.now();
    let busy = false;
    const timed = () => {
      startedAt = performance.now();
      return fn();
    };
    try {
      const value = await retryWhileBusy(timed, deadline, this.options.deadlineMs, () => (busy = true));
      stats.writes++;
      if (busy) stats.contended++;
      stats.waitSeconds += (startedAt - queuedAt) / 1000;
      this.options.status?.succeeded();
      return value;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) this.options.status?.failed(error);
      throw error;
    } finally {
      stats.queued--;
    }
  }
}

/**
 * Runs `fn` again, after a short timer, while it fails on SQLITE_BUSY, until `deadline`
 * (a performance.now() time); past it, a DatabaseUnavailableError. Also used outside
 * the lock: a new connection's first statement meets SQLITE_BUSY while another process
 * checkpoints the WAL as it closes.
 */
export async function retryWhileBusy<T>(fn: () => T | Promise<T>, deadline: number, deadlineMs: number, onBusy?: () => void): Promise<T> {
  for (let wait = FIRST_RETRY_MS; ; wait = Math.min(wait * 2, MAX_RETRY_MS)) {
    try {
      return await fn();
    } catch (error) {
      if (!isSqliteBusy(error)) throw error;
      onBusy?.();
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new DatabaseUnavailableError(`SQLite: the write lock was not free within ${deadlineMs} ms (another process holds it)`, {
          cause: error,
        });
      }
      await sleep(Math.min(wait, left));
    }
  }
}
