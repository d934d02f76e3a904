// The webhook outbox across processes (issue 10): a server SIGKILLed with deliveries
// pending loses none of them (a restarted process sends them all, each webhook-id at
// least once), two app instances on one database never send the same delivery
// attempt at the same time, and on PostgreSQL three server processes share a backlog
// without sending any delivery twice. Runs on SQLite, or on a PostgreSQL schema with
// TEST_DATABASE_URL.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { Webhook } from "standardwebhooks";
import { buildApp } from "../../src/main/app.js";
import { loadConfig } from "../../src/main/config.js";
import { ADMIN_TOKEN, freshDatabase, testClock } from "../support/helper.js";
import { connectSchema, http, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";

interface Received {
  id: string;
  body: string;
  headers: IncomingMessage["headers"];
  /** The status answered, once answered. */
  status?: number;
}

/** A receiver on 127.0.0.1 that hands each request to `handle` once its body is read. */
async function receiver(t: Test, handle: (request: Received, res: ServerResponse) => void): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = { id: String(req.headers["webhook-id"]), body: Buffer.concat(chunks).toString("utf8"), headers: req.headers };
      received.push(request);
      handle(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** A receiver answering each request after `delayMs`, counting the requests that arrived while one with the same webhook-id was in flight. */
async function overlapWatchingReceiver(t: Test, delayMs: number, status: () => number) {
  const inFlight = new Map<string, number>();
  let overlaps = 0;
  const hook = await receiver(t, (request, res) => {
    const n = (inFlight.get(request.id) ?? 0) + 1;
    inFlight.set(request.id, n);
    if (n > 1) overlaps++;
    setTimeout(() => {
      inFlight.set(request.id, (inFlight.get(request.id) ?? 1) - 1);
      request.status = status();
      res.writeHead(request.status).end();
    }, delayMs);
  });
  return { hook, overlaps: () => overlaps };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

t.test("SIGKILL with deliveries pending: a restarted process sends every one of them", async (t) => {
  const databaseUrl = await freshDatabase(t);
  const env = {
    DATABASE_URL: databaseUrl,
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
    APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true",
    APPGRANT_WEBHOOK_TIMEOUT: "1",
    // Short database deadlines: the lease of a killed process's claims ends sooner.
    APPGRANT_DB_CONNECT_TIMEOUT: "500",
    APPGRANT_DB_QUERY_TIMEOUT: "1000",
    LOG_LEVEL: "info",
  };
  const servers: ServerProcess[] = [];
  t.teardown(async () => {
    if (t.passing() === false) for (const s of servers) t.comment(`--- ${s.name} ---\n${s.log.slice(-30).join("\n")}`);
    await Promise.all(servers.map((s) => stopServer(s, 2_000)));
  });

  // Down while the first process runs: every attempt fails (503) or hangs, so every delivery is pending at the kill.
  let up = false;
  const hook = await receiver(t, (request, res) => {
    request.status = up ? 200 : Math.random() < 0.5 ? 503 : undefined;
    // undefined: never answered before the kill
    if (request.status) res.writeHead(request.status).end();
  });

  const before = await startServer({ name: "before", env });
  servers.push(before);
  const app = await http(before, "POST", "/admin/v1/applications", {
    bearer: ADMIN_TOKEN,
    json: { name: "Hooked", redirect_uris: ["https://app.example/cb"], scopes: ["read"], client_type: "public", webhook_url: hook.url },
  });
  t.equal(app.status, 201);
  const secret = app.body.webhook_secret as string;
  const installations: string[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await http(before, "POST", "/admin/v1/installations", {
      bearer: ADMIN_TOKEN,
      json: { client_id: app.body.client_id, account: `a${i}` },
    });
    t.equal(res.status, 201);
    installations.push(res.body.id as string);
  }
  for (const id of installations.slice(0, 4)) await http(before, "DELETE", `/admin/v1/installations/${id}`, { bearer: ADMIN_TOKEN });
  await until("attempts to reach the receiver", () => hook.received.length >= 6, 20_000);
  before.child.kill("SIGKILL");
  await until("the kill", () => before.exited !== null);
  const sentBefore = new Set(hook.received.map((r) => r.id));
  t.ok(sentBefore.size > 0, `${sentBefore.size} deliveries had been tried before the kill`);

  up = true;
  const after = await startServer({ name: "after", env });
  servers.push(after);
  // 16 events: 12 created, 4 deleted. Each must arrive at least once with a 200.
  await until("every delivery to arrive", () => new Set(hook.received.filter((r) => r.body.length > 0).map((r) => r.id)).size >= 16, 60_000);
  const ids = new Set(hook.received.map((r) => r.id));
  t.equal(ids.size, 16, "16 webhook-ids, each seen at least once");
  const types = new Map<string, string>();
  for (const r of hook.received) {
    const event = new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: { installation: { id: string } } };
    types.set(r.id, `${event.type} ${event.data.installation.id}`);
  }
  t.equal([...types.values()].filter((v) => v.startsWith("installation.created")).length, 12, "every created event");
  t.equal([...types.values()].filter((v) => v.startsWith("installation.deleted")).length, 4, "every deleted event");
  // Order per installation survived the kill: an installation's deleted was sent only once its created had a 200.
  for (const id of installations.slice(0, 4)) {
    const firstDeleted = hook.received.findIndex((r) => types.get(r.id) === `installation.deleted ${id}`);
    const createdOk = hook.received.findIndex((r) => types.get(r.id) === `installation.created ${id}` && r.status === 200);
    t.ok(createdOk !== -1 && firstDeleted > createdOk, `installation ${id}: created delivered before deleted was sent`);
  }
});

t.test("two app instances on one database never send the same delivery attempt at once", async (t) => {
  const databaseUrl = await freshDatabase(t);
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
    APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true",
    LOG_LEVEL: "silent",
  });
  const clock = testClock();
  // Slow, and a failure one time in three: retries are due at once (baseDelayMs 0) and claimed by either instance.
  const { hook, overlaps } = await overlapWatchingReceiver(t, 30, () => (Math.random() < 0.33 ? 500 : 200));
  const webhooks = { pollMs: 10, baseDelayMs: 0, batchSize: 4 };
  const a = await buildApp({ config, clock, webhooks });
  const b = await buildApp({ config, clock, webhooks });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await Promise.all([a.ready(), b.ready()]);
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const created = (
    await a.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers,
      payload: { name: "Hooked", redirect_uris: ["https://app.example/cb"], scopes: ["read"], client_type: "public", webhook_url: hook.url },
    })
  ).json() as { client_id: string };
  const COUNT = 30;
  // Created a few at a time, alternately through each instance: the contention under test is the sending.
  const installed = [];
  for (let i = 0; i < COUNT; i += 5) {
    installed.push(
      ...(await Promise.all(
        Array.from({ length: 5 }, (_, j) =>
          ((i + j) % 2 === 0 ? a : b).inject({
            method: "POST",
            url: "/admin/v1/installations",
            headers,
            payload: { client_id: created.client_id, account: `acct${i + j}` },
          }),
        ),
      )),
    );
  }
  t.same(
    installed.filter((res) => res.statusCode !== 201).map((res) => res.body),
    [],
    "every installation created",
  );
  const expected = installed.filter((res) => res.statusCode === 201).length;
  await until(
    "every delivery delivered",
    async () => (await a.domain.db.webhookDelivery.count({ where: { status: "delivered" } })) === expected,
  ).catch(async (error: unknown) => {
    const left = await a.domain.db.webhookDelivery.findMany({ where: { status: { not: "delivered" } } });
    t.comment(JSON.stringify(left.map((r) => [r.status, r.attempts, r.leaseUntil, r.nextAttemptAt, r.lastError])));
    t.comment(`requests: ${hook.received.length}, now ${clock().toISOString()}`);
    throw error;
  });
  t.equal(overlaps(), 0, "no webhook-id was ever in flight twice at once");
  const rows = await a.domain.db.webhookDelivery.findMany();
  const requests = new Map<string, number>();
  for (const r of hook.received) requests.set(r.id, (requests.get(r.id) ?? 0) + 1);
  t.ok(
    rows.every((row) => requests.get(row.id) === row.attempts),
    "each row's attempts equals the requests its webhook-id received: no attempt was sent without being recorded",
  );
  t.ok(hook.received.length > expected, `some attempts were retries (${hook.received.length} requests)`);
});

t.test(
  "three server processes on PostgreSQL share a backlog: every delivery sent once, none twice at once",
  { skip: process.env.TEST_DATABASE_URL ? false : "needs PostgreSQL (TEST_DATABASE_URL): on SQLite one process delivers" },
  async (t) => {
    const databaseUrl = await freshDatabase(t);
    const env = {
      DATABASE_URL: databaseUrl,
      APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
      APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
      APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true",
      LOG_LEVEL: "info",
    };
    const servers: ServerProcess[] = [];
    t.teardown(async () => {
      if (t.passing() === false) for (const s of servers) t.comment(`--- ${s.name} ---\n${s.log.slice(-30).join("\n")}`);
      await Promise.all(servers.map((s) => stopServer(s, 2_000)));
    });
    // Slow: a process's rounds (10 claims each, sent together) span the others' polls (every second).
    const { hook, overlaps } = await overlapWatchingReceiver(t, 400, () => 200);
    servers.push(...(await Promise.all(["p1", "p2", "p3"].map((name) => startServer({ name, env })))));
    const [p1] = servers as [ServerProcess, ...ServerProcess[]];

    const app = await http(p1, "POST", "/admin/v1/applications", {
      bearer: ADMIN_TOKEN,
      json: { name: "Hooked", redirect_uris: ["https://app.example/cb"], scopes: ["read"], client_type: "public", webhook_url: hook.url },
    });
    t.equal(app.status, 201);
    // A backlog: the application's webhooks held (as a pause holds them) while 60 installations are created…
    const db = await connectSchema(databaseUrl);
    t.teardown(() => db.end());
    await db.query(`UPDATE "Application" SET "webhooksPausedAt" = now() WHERE id = $1`, [app.body.id]);
    const COUNT = 60;
    for (let i = 0; i < COUNT; i += 6) {
      const created = await Promise.all(
        Array.from({ length: 6 }, (_, j) =>
          http(servers[(i + j) % 3]!, "POST", "/admin/v1/installations", {
            bearer: ADMIN_TOKEN,
            json: { client_id: app.body.client_id, account: `acct${i + j}` },
          }),
        ),
      );
      t.same(
        created.filter((res) => res.status !== 201),
        [],
        `installations ${i}–${i + 5} created`,
      );
    }
    t.equal(hook.received.length, 0, "nothing sent while held");
    // …then released at once: every process's next poll finds 60 due rows.
    const resumed = await http(p1, "PATCH", `/admin/v1/applications/${app.body.id}`, { bearer: ADMIN_TOKEN, json: { webhooks_paused: false } });
    t.equal(resumed.status, 200);
    await until("every delivery delivered", async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM "WebhookDelivery" WHERE status = 'delivered'`);
      return rows[0].n === COUNT;
    });
    t.equal(overlaps(), 0, "no webhook-id was ever in flight twice at once");
    const perId = new Map<string, number>();
    for (const r of hook.received) perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
    t.equal(perId.size, COUNT, "every delivery arrived");
    t.same(
      [...perId].filter(([, n]) => n !== 1),
      [],
      "each exactly once: no process sent a delivery another had claimed",
    );
    const senders = servers.filter((server) => server.log.some((line) => line.includes('"msg":"webhook delivered"')));
    t.ok(senders.length >= 2, `the backlog was shared: ${senders.map((s) => s.name).join(", ")} delivered`);
    const { rows } = await db.query(`SELECT attempts FROM "WebhookDelivery"`);
    t.ok(
      rows.every((row: { attempts: number }) => row.attempts === 1),
      "each row records one attempt",
    );
  },
);
