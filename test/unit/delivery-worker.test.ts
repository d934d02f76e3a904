// The delivery worker's loop against a store that fails or hangs: a database outage
// must neither crash the loop nor stall it past the deadline of each call, and the
// loop picks up again once the database answers. The store here is a stand-in for the
// database (the worker is what is tested); the sends go to a real receiver.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t from "tap";
import { randomBytes } from "node:crypto";
import { encrypt } from "../../src/crypto/encryption.js";
import { ServerKeys } from "../../src/crypto/server-keys.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../src/domain/applications.js";
import { DatabaseUnavailableError } from "../../src/shared/database-unavailable.js";
import { WebhookAddressPolicy } from "../../src/shared/webhook-address-policy.js";
import type { AttemptRecord, ClaimedDelivery, OutboxStore } from "../../src/webhooks/outbox-store.js";
import { DeliveryWorker } from "../../src/webhooks/outbox.js";

const keys = new ServerKeys([randomBytes(32).toString("hex")]);

t.test("claims that fail or hang are logged once, retried at the next poll, and the delivery goes out once the database answers", async (t) => {
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(String(req.headers["webhook-id"]));
    req.resume();
    req.on("end", () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  let claims = 0;
  const recorded: AttemptRecord[] = [];
  let sent = false;
  const store: OutboxStore = {
    async claim(now, leaseUntil) {
      claims++;
      if (claims === 1) throw new DatabaseUnavailableError("connection refused");
      if (claims === 2) return new Promise<never>(() => {}); // never answers
      if (claims === 3) throw Object.assign(new Error("ECONNRESET"), { code: "ECONNRESET" });
      if (sent) return [];
      sent = true;
      const delivery: ClaimedDelivery = {
        id: "msg_1",
        applicationId: "app",
        installationId: null,
        type: "installation.deleted",
        payload: JSON.stringify({ type: "installation.deleted", timestamp: now.toISOString(), data: {} }),
        codeEncrypted: null,
        codeId: null,
        codeExpiresAt: null,
        attempts: 0,
        createdAt: now,
        redeliveredAt: null,
        leaseUntil,
        application: {
          webhookUrl: url,
          webhookSecretEncrypted: encrypt(keys, WEBHOOK_SECRET_PURPOSE, `whsec_${randomBytes(32).toString("base64")}`),
          webhookSecretPreviousEncrypted: null,
          webhookSecretPreviousUntil: null,
        },
      };
      return [delivery];
    },
    codeIsValid: async () => false,
    failureStreak: async () => ({ failures: 0, since: null }),
    eraseCode: async () => {},
    async record(_id, _lease, attempt) {
      recorded.push(attempt);
      return true;
    },
  };
  const logs: { level: string; msg: string }[] = [];
  const logAt = (level: string) => (_object: object | string, msg?: string) => logs.push({ level, msg: msg ?? String(_object) });
  const log = { error: logAt("error"), warn: logAt("warn"), info: logAt("info"), debug: logAt("debug") };
  const worker = new DeliveryWorker({
    store,
    secretKey: keys,
    clock: () => new Date(),
    log,
    policy: new WebhookAddressPolicy({ allowPrivate: true, allowedCidrs: [] }),
    pollMs: 20,
    dbTimeoutMs: 200,
  });
  worker.start();
  t.teardown(() => worker.close());
  const deadline = Date.now() + 10_000;
  while (recorded.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(received, ["msg_1"], "delivered once the store answered");
  t.equal(recorded[0]?.status, "delivered");
  t.ok(claims >= 4, `the loop kept polling through the failures (${claims} claims)`);
  t.same(
    logs.filter((l) => l.level === "error" || l.level === "warn").map((l) => l.msg),
    ["webhook deliveries waiting: the outbox could not be read; retrying"],
    "the outage logged once, however many polls failed",
  );
  t.ok(
    logs.some((l) => l.msg === "webhook deliveries resumed: the database answers again"),
    "and its end",
  );
  await worker.close();
  const after = claims;
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(claims, after, "closed: no more claims");
});
