// The webhook outbox polls every second in every process (src/webhooks/outbox.ts). On
// SQLite its queries run on the event loop, so each must find its rows through an index:
// a scan of every installation (the suspended ones are looked up on each poll) stalled
// every request in flight for tens of milliseconds once a second with 100k installations.
// Each query the poll runs is captured from Prisma's log and its plan asked of SQLite.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import t from "tap";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import type { Db } from "../../src/storage/client.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { createOutboxStore } from "../../src/storage/outbox-store.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";

t.test("every query of an outbox poll on SQLite uses an index: no table is scanned", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-outbox-plan-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "plan.db");
  await migrateDatabase(parseDatabaseUrl(`file:${path}`));
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${path}` }), log: [{ emit: "event", level: "query" }] });
  t.teardown(() => prisma.$disconnect());
  const queries: { query: string; params: unknown[] }[] = [];
  prisma.$on("query", (event) => queries.push({ query: event.query, params: JSON.parse(event.params) as unknown[] }));

  const db = prisma as unknown as Db;
  const store = createOutboxStore({ prisma: db, transaction: (fn) => db.$transaction(fn) }, "sqlite");
  const now = new Date();
  await store.claim(now, new Date(now.getTime() + 60_000), 10);

  const reads = queries.filter((q) => /^SELECT/i.test(q.query));
  t.ok(reads.length >= 3, `the poll's reads were captured (${reads.length})`);
  const sqlite = new Database(path, { readonly: true });
  t.teardown(() => sqlite.close());
  for (const { query, params } of reads) {
    const plan = (sqlite.prepare(`EXPLAIN QUERY PLAN ${query}`).all(...(params as never[])) as { detail: string }[]).map((row) => row.detail);
    const scans = plan.filter((detail) => /^SCAN /.test(detail) && !/USING (COVERING )?INDEX/.test(detail));
    t.same(scans, [], `${query.slice(0, 90)}… : ${plan.join("; ")}`);
  }
});
