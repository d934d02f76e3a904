// WAL checkpoints off the request path, for SQLite. A checkpoint copies the WAL's pages
// back into the database file; SQLite runs one inside the commit that makes the WAL
// pass wal_autocheckpoint pages, synchronously: with better-sqlite3 on the event loop,
// the request that happens to commit then (and every request queued behind it) waits
// for tens of megabytes of copying — the token endpoint's p99. Here the process's own
// connections never checkpoint (wal_autocheckpoint = 0) and a worker thread with its
// own connection runs PASSIVE checkpoints (they never wait for a lock, never block a
// writer or a reader) every intervalMs. When they fall behind a steady stream of writes,
// the process pauses its writes for one last checkpoint (see WORKER), so the WAL is
// started over and its file reused.
//
// If the worker stops (it should not), the connections checkpoint for themselves again
// (`onStop`): the WAL never grows without bound.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointerOptions {
  /** ms between checkpoints (each copies what the WAL gained since the last; nothing when it gained nothing). */
  intervalMs: number;
  /**
   * Once the WAL holds this many bytes and the checkpoints cannot catch up with the
   * writers, the worker asks for a pause (`pause`) to catch up in; the next write then
   * starts the WAL over from its beginning.
   */
  restartBytes: number;
  /**
   * Runs `drain` (a last checkpoint, bounded by a second) while this process writes
   * nothing: the server passes its write lock. Without it, `drain` runs at once.
   */
  pause?: (drain: () => Promise<void>) => Promise<unknown>;
  /** Called once if the worker stops other than by close(): the connections must checkpoint again. */
  onStop(error: unknown): void;
}

export const DEFAULT_CHECKPOINTER: Omit<CheckpointerOptions, "onStop"> = { intervalMs: 50, restartBytes: 32 * 1024 * 1024 };

/** The longest a pause waits for the worker's last checkpoint. */
const DRAIN_TIMEOUT_MS = 1000;

// Plain CommonJS run by the worker (eval: no TypeScript loader needed, in dist or under tsx).
// A PASSIVE checkpoint copies the frames committed before it started; under a steady
// stream of writes there are always newer ones, so it never catches up, and SQLite
// starts the WAL over only after a checkpoint that caught up: without the pause the WAL
// grows without bound (measured: 760 MB in 8 s of refreshes), each commit appending to
// the file instead of rewriting pages the kernel already holds.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 0 });
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
let frameBytes = 0;
let pausing = false;
let nextPauseAt = 0;
let drainedLog = -1;
const run = () => {
  try {
    return checkpoint.get();
  } catch (error) {
    if (String(error && error.code).startsWith("SQLITE_BUSY")) return null;
    throw error;
  }
};
let copied = 0;
const report = (result) => {
  if (result && result.checkpointed > 0 && result.checkpointed !== copied) parentPort.postMessage({ checkpointed: true });
  copied = result ? result.checkpointed : copied;
};
const timer = setInterval(() => {
  if (pausing) return;
  if (frameBytes === 0) frameBytes = db.pragma("page_size", { simple: true }) + 24;
  const result = run();
  report(result);
  if (!result) return;
  // Written to since the last pause without starting over (another process's reader
  // keeps the WAL): ask again only after 10 intervals.
  if (drainedLog >= 0 && result.log !== drainedLog) {
    if (result.log > drainedLog) nextPauseAt = Date.now() + 10 * workerData.intervalMs;
    drainedLog = -1;
  }
  // A large WAL that was written to since the last pause: ask for one. (A checkpoint
  // that copied every frame is not enough: the write that had begun meanwhile appends.)
  if (result.log * frameBytes >= workerData.restartBytes && result.log !== drainedLog && Date.now() >= nextPauseAt) {
    pausing = true;
    parentPort.postMessage({ pause: true });
  }
}, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message === "drain") {
    const result = run();
    report(result);
    drainedLog = result ? result.log : -1;
    pausing = false;
    parentPort.postMessage({ drained: true });
  }
  if (message === "close") { clearInterval(timer); db.close(); parentPort.close(); }
});
`;

export class Checkpointer {
  #worker: Worker;
  #exited: Promise<void>;
  #closing = false;
  #drained: (() => void) | undefined;
  /** Checkpoints that copied frames, so far (tests and metrics). */
  checkpoints = 0;
  /** Pauses the worker asked for (each lets the WAL start over), so far. */
  pauses = 0;

  constructor(path: string, options: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(WORKER, {
      eval: true,
      workerData: { path, driver, intervalMs: options.intervalMs, restartBytes: options.restartBytes },
    });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    // The process must not wait for the worker to exit.
    this.#worker.unref();
    this.#worker.on("message", (message: { checkpointed?: true; pause?: true; drained?: true }) => {
      if (message.checkpointed) this.checkpoints++;
      if (message.drained) this.#drained?.();
      if (message.pause) void this.#pause(options);
    });
    let stopped = false;
    const stop = (error: unknown) => {
      if (this.#closing || stopped) return;
      stopped = true;
      options.onStop(error);
    };
    this.#worker.on("error", stop);
    this.#worker.on("exit", (code) => stop(new Error(`the checkpoint worker exited with ${code}`)));
  }

  /** The worker's last checkpoint, inside `options.pause`, until it answers (at most DRAIN_TIMEOUT_MS). */
  async #pause(options: CheckpointerOptions): Promise<void> {
    this.pauses++;
    const drain = () =>
      new Promise<void>((resolve) => {
        if (this.#closing) return resolve();
        const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#drained = () => {
          this.#drained = undefined;
          done();
        };
        this.#worker.postMessage("drain");
      });
    try {
      await (options.pause ?? ((fn) => fn()))(drain);
    } catch {
      // The pause could not be had (the write lock's deadline): checkpoint without it,
      // which also lets the worker ask again later.
      await drain();
    }
  }

  /** Stops the worker (its connection closed), within a second. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#drained?.();
    this.#worker.postMessage("close");
    const timer = setTimeout(() => void this.#worker.terminate(), 1000);
    await this.#exited;
    clearTimeout(timer);
  }
}
