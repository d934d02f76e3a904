// WAL checkpoints off the request path, for SQLite. A checkpoint copies the WAL's pages
// back into the database file; SQLite runs one inside the commit that makes the WAL
// pass wal_autocheckpoint pages, synchronously: with better-sqlite3 on the event loop,
// the request that happens to commit then (and every request queued behind it) waits
// for tens of megabytes of copying — the token endpoint's p99. Here the process's own
// connections never checkpoint (wal_autocheckpoint = 0) and a worker thread with its
// own connection runs PASSIVE checkpoints (they never wait for a lock, never block a
// writer or a reader) whenever the WAL has grown, so the WAL is reset and reused.
//
// If the worker stops (it should not), the connections checkpoint for themselves again
// (`onStop`): the WAL never grows without bound.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

export interface CheckpointerOptions {
  /** ms between looks at the WAL's size. */
  intervalMs: number;
  /** A checkpoint runs once the WAL has this many bytes more than after the last one. */
  thresholdBytes: number;
  /** Called once if the worker stops other than by close(): the connections must checkpoint again. */
  onStop(error: unknown): void;
}

export const DEFAULT_CHECKPOINTER: Omit<CheckpointerOptions, "onStop"> = { intervalMs: 50, thresholdBytes: 4 * 1024 * 1024 };

// Plain CommonJS run by the worker (eval: no TypeScript loader needed, in dist or under tsx).
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { statSync } = require("node:fs");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 0 });
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const wal = workerData.path + "-wal";
let last = 0;
const size = () => { try { return statSync(wal).size; } catch { return 0; } };
const timer = setInterval(() => {
  const now = size();
  if (now < last) last = 0;
  if (now - last < workerData.thresholdBytes) return;
  try {
    checkpoint.get();
    last = size();
    parentPort.postMessage({ checkpointed: true });
  } catch (error) {
    if (!String(error && error.code).startsWith("SQLITE_BUSY")) throw error;
  }
}, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message === "close") { clearInterval(timer); db.close(); parentPort.close(); }
});
`;

export class Checkpointer {
  #worker: Worker;
  #exited: Promise<void>;
  #closing = false;
  /** Checkpoints run so far (tests and metrics). */
  checkpoints = 0;

  constructor(path: string, options: CheckpointerOptions) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(WORKER, {
      eval: true,
      workerData: { path, driver, intervalMs: options.intervalMs, thresholdBytes: options.thresholdBytes },
    });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    // The process must not wait for the worker to exit.
    this.#worker.unref();
    this.#worker.on("message", () => this.checkpoints++);
    let stopped = false;
    const stop = (error: unknown) => {
      if (this.#closing || stopped) return;
      stopped = true;
      options.onStop(error);
    };
    this.#worker.on("error", stop);
    this.#worker.on("exit", (code) => stop(new Error(`the checkpoint worker exited with ${code}`)));
  }

  /** Stops the worker (its connection closed), within a second. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#worker.postMessage("close");
    const timer = setTimeout(() => void this.#worker.terminate(), 1000);
    await this.#exited;
    clearTimeout(timer);
  }
}
