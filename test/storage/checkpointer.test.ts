// WAL checkpoints in a worker thread (src/storage/checkpointer.ts): the server's own
// connections never checkpoint inside a commit, the worker keeps the WAL from growing,
// and should the worker stop the connections checkpoint inline again.
// SQLite files of their own, whichever database the suite runs on.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { Checkpointer } from "../../src/storage/checkpointer.js";
import { openDatabase } from "../../src/storage/database.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { DEFAULT_DATABASE_SETTINGS, parseDatabaseUrl } from "../../src/storage/settings.js";

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-checkpointer-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

t.test("the server's connections leave checkpoints to the worker, which keeps the WAL small", async (t) => {
  const path = join(tempDir(t), "test.db");
  const location = parseDatabaseUrl(`file:${path}`);
  await migrateDatabase(location);
  const database = await openDatabase(location, { ...DEFAULT_DATABASE_SETTINGS, backgroundCheckpoints: true });
  t.teardown(() => database.close());
  const [pragma] = await database.prisma.$queryRawUnsafe<{ wal_autocheckpoint: number | bigint }[]>("PRAGMA wal_autocheckpoint");
  t.equal(Number(pragma!.wal_autocheckpoint), 0, "Prisma's connection does not checkpoint");

  // ~12 MiB written through the process's connections, several times the worker's threshold.
  const blob = "x".repeat(64 * 1024);
  for (let i = 0; i < 200; i++) {
    await database.transaction((tx) =>
      tx.application.create({
        data: {
          id: `app-${i}`,
          clientId: `client-${i}`,
          name: blob,
          clientType: "public",
          redirectUris: "[]",
          scopes: "read",
          grantTypes: "authorization_code",
          createdAt: new Date(),
          updatedAt: new Date(),
        },
      }),
    );
  }
  await until(() => (database.stats().checkpoints ?? 0) > 0, "a checkpoint by the worker");
  // A checkpoint that caught up lets the next writer start the WAL over: it stops growing.
  await database.transaction((tx) => tx.application.update({ where: { id: "app-0" }, data: { name: "small" } }));
  t.ok(statSync(`${path}-wal`).size < 64 * 1024 * 1024, "the WAL is reused, within journal_size_limit");
});

t.test("under a steady stream of writes the WAL still starts over: its file stays bounded", async (t) => {
  const path = join(tempDir(t), "test.db");
  const location = parseDatabaseUrl(`file:${path}`);
  await migrateDatabase(location);
  const restartBytes = 4 * 1024 * 1024;
  const database = await openDatabase(location, { ...DEFAULT_DATABASE_SETTINGS, backgroundCheckpoints: true, walRestartBytes: restartBytes });
  t.teardown(() => database.close());
  // ~80 MiB, each write queued before the previous one committed: there is never a
  // moment without a write for a PASSIVE checkpoint to catch up in. Between writes the
  // event loop turns, as a server's does between requests (the worker's messages come in then).
  // Without the pause the WAL holds everything written (~80 MiB); with it, a few times
  // restartBytes at most: how many depends on when the worker's interval comes round on a
  // loaded machine (21 MB was seen once in CI with 4 MiB), hence the bound of 32 MiB.
  const blob = "x".repeat(64 * 1024);
  let largest = 0;
  const write = (i: number) =>
    database.transaction((tx) =>
      tx.application.create({
        data: {
          id: `app-${i}`,
          clientId: `client-${i}`,
          name: blob,
          clientType: "public",
          redirectUris: "[]",
          scopes: "read",
          grantTypes: "authorization_code",
          createdAt: new Date(),
          updatedAt: new Date(),
        },
      }),
    );
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 1280; i++) {
    writes.push(write(i).then(() => (largest = Math.max(largest, statSync(`${path}-wal`).size))));
    if (writes.length >= 4) await writes.shift();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(writes);
  t.ok((database.stats().checkpointPauses ?? 0) > 0, "the writes paused for the checkpoint to catch up");
  t.ok(largest < 32 * 1024 * 1024, `the WAL file stayed small (largest ${largest} bytes for ~80 MiB written)`);
  t.equal(await database.prisma.application.count(), 1280, "every write committed");
});

t.test("a worker that stops hands checkpoints back to the connections (onStop, once)", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "not-a-database.db");
  writeFileSync(path, "this is not an SQLite file, ".repeat(100));
  const stops: unknown[] = [];
  const checkpointer = new Checkpointer(path, { intervalMs: 5, restartBytes: 0, onStop: (error) => stops.push(error) });
  t.teardown(() => checkpointer.close());
  // The worker's connection opens lazily; its first checkpoint fails and ends it.
  writeFileSync(`${path}-wal`, "x".repeat(1024));
  await until(() => stops.length > 0, "the worker to stop");
  t.equal(stops.length, 1);
});

t.test("close() stops the worker and closes its connection", async (t) => {
  const path = join(tempDir(t), "test.db");
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  let stopped = false;
  const checkpointer = new Checkpointer(path, { intervalMs: 5, restartBytes: 0, onStop: () => (stopped = true) });
  await checkpointer.close();
  t.notOk(stopped, "a close is not a stop");
  // No connection left: the database can be taken exclusively.
  const db = new Database(path);
  db.pragma("locking_mode = EXCLUSIVE");
  db.exec("BEGIN EXCLUSIVE; COMMIT;");
  db.close();
});
