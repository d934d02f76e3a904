// SQLite's write lock held by another connection: the process's writes (token store
// statements and Prisma transactions alike) wait for it asynchronously, in order, up
// to their deadline; past it they fail as "database unavailable" (src/storage/write-lock.ts).
// SQLite files of their own, whichever database the suite runs on.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { DEFAULT_DATABASE_SETTINGS, parseDatabaseUrl } from "../../src/storage/settings.js";
import { openDatabase } from "../../src/storage/database.js";
import { newId } from "../../src/shared/ids.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { DatabaseUnavailableError } from "../../src/shared/database-unavailable.js";
import { WriteLock } from "../../src/storage/write-lock.js";
import { DependencyStatus } from "../../src/shared/dependency-status.js";

const busy = () => Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });

function recorder() {
  const lines: { message: string; object: Record<string, unknown> }[] = [];
  const log = {
    error: (object: Record<string, unknown>, message: string) => lines.push({ message, object }),
    info: (object: Record<string, unknown>, message: string) => lines.push({ message, object }),
  };
  return { lines, status: new DependencyStatus("database", log) };
}

async function sqliteFile(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-write-lock-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `file:${join(dir, "test.db")}`;
  await migrateDatabase(parseDatabaseUrl(url));
  return url;
}

const application = (id: string) => ({
  id,
  clientId: `client-${id}`,
  name: "Locked out",
  clientType: "confidential",
  redirectUris: "[]",
  scopes: "read",
  grantTypes: "authorization_code refresh_token",
  createdAt: new Date(),
  updatedAt: new Date(),
});

t.test("a write meeting another connection's lock waits without blocking the event loop, then succeeds", async (t) => {
  const url = await sqliteFile(t);
  const database = await openDatabase(parseDatabaseUrl(url), { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 5000 });
  t.teardown(() => database.close());
  const holder = new Database(url.slice("file:".length));
  t.teardown(() => holder.close());

  holder.prepare("BEGIN IMMEDIATE").run();
  const started = performance.now();
  const id = newId(Date.now());
  const created = database.transaction(async (tx) => {
    await tx.application.findMany({ take: 1 });
    return tx.application.create({ data: application(id) });
  });
  const revoked = database.tokens.revokeFamily("no-such-family", new Date(), "test");
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  await new Promise((resolve) => setTimeout(resolve, 300));
  holder.prepare("COMMIT").run();
  const [application_, count] = await Promise.all([created, revoked]);
  clearInterval(ticker);
  const elapsed = performance.now() - started;

  t.equal(application_.id, id, "the Prisma transaction ran, whole, once the lock was free");
  t.equal(count, 0, "and so did the token store's statement");
  t.ok(elapsed >= 290, `they waited for the lock (${elapsed.toFixed(0)} ms)`);
  // The lock is released by a timer: a write busy-waiting on the event loop (as with
  // better-sqlite3's busy timeout) would have failed before it could fire.
  t.ok(ticks > 0, `the event loop ran meanwhile (${ticks} timer ticks of 10 ms in ~300 ms)`);
  t.equal(await database.prisma.application.count({ where: { id } }), 1, "the application exists once");
});

t.test("past its deadline a write fails as database unavailable; the outage is logged twice in all", async (t) => {
  const url = await sqliteFile(t);
  const { lines, status } = recorder();
  const database = await openDatabase(parseDatabaseUrl(url), { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 200 }, status);
  t.teardown(() => database.close());
  const holder = new Database(url.slice("file:".length));
  t.teardown(() => holder.close());

  holder.prepare("BEGIN IMMEDIATE").run();
  const started = performance.now();
  const results = await Promise.allSettled([
    database.tokens.revokeToken("a", new Date(), "test"),
    database.transaction((tx) => tx.application.create({ data: application(newId(Date.now())) })),
    database.tokens.revokeFamily("b", new Date(), "test"),
  ]);
  const elapsed = performance.now() - started;
  t.same(
    results.map((result) => (result.status === "rejected" ? (result.reason as Error).name : "fulfilled")),
    ["DatabaseUnavailableError", "DatabaseUnavailableError", "DatabaseUnavailableError"],
  );
  t.ok(elapsed < 200 + 1000, `each within its deadline, counted from when it was queued (${elapsed.toFixed(0)} ms for three)`);
  t.match((results[0] as PromiseRejectedResult).reason, { message: /write lock was not free within 200 ms/ });
  t.equal(lines.length, 1, "one line for the outage so far");
  t.match(lines[0], { message: "database unavailable" });

  holder.prepare("COMMIT").run();
  t.equal(await database.tokens.revokeToken("a", new Date(), "test"), false, "writes succeed once the lock is free");
  t.equal(lines.length, 2);
  t.match(lines[1], { message: "database available again", object: { failures: 3 } });
  t.equal(await database.prisma.application.count(), 0, "the failed transaction left nothing behind");
});

t.test("writes run one at a time, in the order they were queued, retries included", async (t) => {
  const lock = new WriteLock({ deadlineMs: 1000 });
  const ran: string[] = [];
  let failures = 2;
  const first = lock.run(() => {
    ran.push("first");
    if (failures-- > 0) throw busy();
    return "first done";
  });
  const second = lock.run(async () => {
    ran.push("second");
    return "second done";
  });
  t.same(await Promise.all([first, second]), ["first done", "second done"]);
  t.same(ran, ["first", "first", "first", "second"], "the second waited for the first's retries");
});

t.test("an error other than SQLITE_BUSY fails at once and does not stop the queue", async (t) => {
  const { lines, status } = recorder();
  const lock = new WriteLock({ deadlineMs: 1000, status });
  let calls = 0;
  const failing = lock.run(() => {
    calls++;
    throw Object.assign(new Error("UNIQUE constraint failed"), { code: "SQLITE_CONSTRAINT_UNIQUE" });
  });
  await t.rejects(failing, { code: "SQLITE_CONSTRAINT_UNIQUE" });
  t.equal(calls, 1, "not retried");
  t.equal(await lock.run(() => "next"), "next");
  t.same(lines, [], "not an outage");
  t.notOk(new DatabaseUnavailableError("x") instanceof TypeError);
});

t.test("every Prisma write of the domain, admin API and CLI goes through ctx.transaction (and so through the lock)", async (t) => {
  // A write on ctx.db directly would meet another process's lock outside the queue and
  // its retries: it would fail at once on SQLITE_BUSY.
  const { readdirSync, readFileSync } = await import("node:fs");
  const root = new URL("../../src/", import.meta.url);
  const direct: string[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.parentPath.includes("generated")) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), "utf8");
    for (const match of text.matchAll(/\b(?:db|prisma)\.[a-zA-Z]+\.(?:create|createMany|update|updateMany|upsert|delete|deleteMany)\(/g)) {
      direct.push(`${entry.name}: ${match[0]}`);
    }
  }
  t.same(direct, [], "no model write outside a transaction");
});

// The CLI's "installs create" crashed with SQLITE_BUSY when two commands ran at once:
// a new connection's first statement met another process holding the database
// exclusively for a moment (the last connection to close checkpoints the WAL).
// Here another connection holds it in exclusive locking mode.
function holdExclusively(path: string) {
  const holder = new Database(path);
  holder.pragma("locking_mode = EXCLUSIVE");
  holder.exec("BEGIN EXCLUSIVE; COMMIT;");
  return holder;
}

t.test("opening the database waits for a moment of exclusive lock, up to its deadline", async (t) => {
  const url = await sqliteFile(t);
  const location = parseDatabaseUrl(url);
  if (location.kind !== "sqlite") throw new Error("unreachable");
  const holder = holdExclusively(location.path);
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      holder.close();
      resolve();
    }, 200),
  );
  const database = await openDatabase(location, { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 5000 });
  t.teardown(() => database.close());
  await released;
  t.equal(await database.prisma.application.count(), 0, "opened once the lock was free, and usable");
  await database.ping();
});

t.test("past the deadline, opening fails as database unavailable", async (t) => {
  const url = await sqliteFile(t);
  const location = parseDatabaseUrl(url);
  if (location.kind !== "sqlite") throw new Error("unreachable");
  const holder = holdExclusively(location.path);
  t.teardown(() => holder.close());
  await t.rejects(openDatabase(location, { ...DEFAULT_DATABASE_SETTINGS, queryTimeoutMs: 150 }), DatabaseUnavailableError);
});
