// One writer at a time within the process, for SQLite.
//
// Prisma's interactive transactions hold SQLite's write lock across awaits, while
// the token endpoint writes synchronously through its own better-sqlite3 connection
// (src/oauth/sqlite-token-store.ts). If the synchronous writer met the lock held by
// an open Prisma transaction it would busy-wait on the event loop that transaction
// needs in order to finish. Queuing every write transaction here makes that
// impossible. PostgreSQL has real row locks and does not use this.
export class WriteLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
