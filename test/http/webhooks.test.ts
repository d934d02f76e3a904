// Installation webhooks through the durable outbox, against a real HTTP receiver on
// 127.0.0.1: what is sent ({type, timestamp, data} with the installation and, while it
// is valid, the code), how it is signed (Standard Webhooks, checked with the
// standardwebhooks package's Webhook.verify, unmodified), that the admin response
// never waits for the receiver, retries recorded in the row with backoff on the
// injected clock, giving up with a log line that leaks nothing, secret rotation with
// an overlap, order per installation, and the events an authorization request's
// acceptance raises.
import t, { type Test } from "tap";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { sha256 } from "../../src/crypto/tokens.js";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { exchange, expectTokens } from "../support/oauth-helper.js";

// ---------------------------------------------------------------- the receiver

interface Delivery {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received: what the signature covers. */
  body: string;
  receivedAt: number;
}

type Responder = (request: Delivery, index: number, res: ServerResponse) => void;

const answer =
  (status: number): Responder =>
  (_request, _index, res) => {
    res.writeHead(status).end();
  };

interface Receiver {
  url: string;
  deliveries: Delivery[];
  respond: Responder;
}

/** An HTTP server on 127.0.0.1 (port 0) that records every request; answers 200 unless told otherwise. */
async function receiver(t: Test, respond: Responder = answer(200)): Promise<Receiver> {
  const state: Receiver = { url: "", deliveries: [], respond };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const delivery: Delivery = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        receivedAt: performance.now(),
      };
      state.deliveries.push(delivery);
      state.respond(delivery, state.deliveries.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/appgrant`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

// ---------------------------------------------------------------- the app

interface WebhookTestApp extends TestApp {
  /** The captured log lines, parsed. */
  entries(): { level: number; msg: string; [key: string]: unknown }[];
}

/**
 * Like buildTestApp, with a short poll (retries become due when the test moves the clock),
 * opted in to internal receivers: the receivers here listen on 127.0.0.1, which the SSRF
 * policy refuses by default (test/fault/ssrf.test.ts).
 */
async function buildWebhookApp(t: Test, env: Record<string, string> = {}, webhooks: Record<string, unknown> = {}): Promise<WebhookTestApp> {
  const test = await buildTestApp(t, { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true", ...env }, { webhooks: { pollMs: 20, ...webhooks } });
  return { ...test, entries: () => test.logs.map((line) => JSON.parse(line)) };
}

/** Polls `check` every 10 ms until it returns a truthy value; fails after `timeoutMs` (generous: CI machines are loaded). */
async function until<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const deliveryCount = (hook: Receiver, n: number) => until(`${n} deliveries`, () => hook.deliveries.length >= n && hook.deliveries);

const rows = (test: TestApp) => test.app.domain.db.webhookDelivery.findMany({ orderBy: { id: "asc" } });
const row = (test: TestApp, id: string) => test.app.domain.db.webhookDelivery.findUniqueOrThrow({ where: { id } });

/** Moves the clock to the delivery's next attempt and waits until that attempt is recorded. */
async function nextAttempt<T extends { id: string; attempts: number; nextAttemptAt: Date }>(test: TestApp, current: T) {
  const attempts = current.attempts;
  test.clock.set(current.nextAttemptAt);
  return until(`attempt ${attempts + 1}`, async () => {
    const r = await row(test, current.id);
    return r.attempts > attempts && r.leaseUntil === null && r;
  });
}

// ---------------------------------------------------------------- signatures

/** Webhook.verify of the standardwebhooks package, as a receiver calls it: throws unless genuine. */
function verified(secret: string, delivery: Pick<Delivery, "headers" | "body">): unknown {
  return new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>);
}

function expectSigned(t: Test, delivery: Delivery, secret: string, what: string): void {
  t.match(delivery.headers["webhook-id"], /^msg_[0-9a-f-]{36}$/, `${what}: webhook-id`);
  t.match(delivery.headers["webhook-timestamp"], /^\d+$/, `${what}: webhook-timestamp`);
  t.match(delivery.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]+=*( v1,[A-Za-z0-9+/]+=*)*$/, `${what}: webhook-signature v1,<base64>`);
  t.strictSame(verified(secret, delivery), JSON.parse(delivery.body), `${what}: Webhook.verify accepts it`);
}

function expectNotSignedWith(t: Test, delivery: Delivery, secret: string, what: string): void {
  t.throws(() => verified(secret, delivery), WebhookVerificationError, `${what}: Webhook.verify refuses it`);
}

interface CreatedApp {
  id: string;
  client_id: string;
  client_secret: string | null;
  webhook_secret: string;
}

async function appWithWebhook(test: TestApp, url: string | null, body: Record<string, unknown> = {}): Promise<CreatedApp> {
  return (await createApp(test, { ...(url !== null ? { webhook_url: url } : {}), ...body })) as unknown as CreatedApp;
}

const installationFields = (json: Record<string, unknown>) => ({
  id: json.id,
  client_id: json.client_id,
  account: json.account,
  scopes: json.scopes,
  status: json.status,
  created_at: json.created_at,
  uninstalled_at: json.uninstalled_at,
  suspended_at: json.suspended_at,
  suspension_reason: json.suspension_reason,
  pending_scopes: json.pending_scopes,
});

const WHSEC = /^whsec_[A-Za-z0-9+/]{43}=$/;

// ---------------------------------------------------------------- tests

t.test("creating an installation POSTs a signed installation.created with the installation and its code", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  t.match(app.webhook_secret, WHSEC, "the webhook secret is shown once, at creation, in the Standard Webhooks form");

  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read"] });
  const [delivery] = await deliveryCount(hook, 1);

  t.equal(delivery!.method, "POST");
  t.equal(delivery!.path, "/hooks/appgrant", "sent to the registered URL, path included");
  t.match(delivery!.headers["content-type"], /^application\/json/);
  const stored = await until("the delivered record", async () => (await rows(test)).find((r) => r.status === "delivered"));
  t.equal(delivery!.headers["webhook-id"], stored!.id, "webhook-id is the delivery's id");
  t.strictSame(
    JSON.parse(delivery!.body),
    {
      type: "installation.created",
      timestamp: test.clock().toISOString(),
      data: { installation: installationFields(installed), code: installed.code, code_expires_at: installed.code_expires_at },
    },
    "body: the event type, when, the installation as the admin API shows it, and the code the admin response carried",
  );
  expectSigned(t, delivery!, app.webhook_secret, "delivery");
  t.equal(stored!.status, "delivered");
  t.equal(stored!.attempts, 1);
  t.equal(stored!.lastStatus, 200);
  t.notOk(stored!.payload.includes(installed.code), "the stored payload does not hold the code");
  t.notOk(stored!.codeEncrypted?.includes(installed.code), "the code is sealed");
  const event = await test.app.domain.db.event.findUniqueOrThrow({ where: { id: stored!.eventId } });
  t.equal(event.type, "installation.created");
  t.notOk(event.data.includes(installed.code), "the event does not hold the code");

  // The code in the webhook is the real one: the application can exchange it.
  const code = JSON.parse(delivery!.body).data.code as string;
  expectTokens(t, await exchange(test, app, code), { installation_id: installed.id, scope: "read" });
});

t.test("Webhook.verify refuses a wrong secret, a tampered body, another id or a moved timestamp", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const other = await appWithWebhook(test, null);
  await install(test, app.client_id);
  const [delivery] = await deliveryCount(hook, 1);
  expectSigned(t, delivery!, app.webhook_secret, "the genuine delivery");
  const headers = delivery!.headers;
  const body = delivery!.body;
  const timestamp = Number(headers["webhook-timestamp"]);
  const forgeries: [string, string, Pick<Delivery, "headers" | "body">][] = [
    ["another application's webhook secret", other.webhook_secret, delivery!],
    ["a body with another account", app.webhook_secret, { headers, body: body.replace('"acme"', '"evil"') }],
    ["a body with a trailing space", app.webhook_secret, { headers, body: `${body} ` }],
    ["another webhook-id", app.webhook_secret, { headers: { ...headers, "webhook-id": `${headers["webhook-id"]}x` }, body }],
    ["the timestamp moved by one second", app.webhook_secret, { headers: { ...headers, "webhook-timestamp": String(timestamp + 1) }, body }],
    ["no signature", app.webhook_secret, { headers: { ...headers, "webhook-signature": "" }, body }],
  ];
  for (const [name, secret, forged] of forgeries) expectNotSignedWith(t, forged as Delivery, secret, name);
});

t.test("uninstalling POSTs installation.deleted, once, without a code", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  await deliveryCount(hook, 1);
  test.clock.advance(3600);

  const res = await test.admin("DELETE", `/admin/v1/installations/${installed.id}`);
  t.equal(res.statusCode, 204);
  const deliveries = await deliveryCount(hook, 2);
  const deleted = deliveries[1]!;
  const after = (await test.admin("GET", `/admin/v1/installations/${installed.id}`)).json() as Record<string, unknown>;
  t.strictSame(
    JSON.parse(deleted.body),
    { type: "installation.deleted", timestamp: test.clock().toISOString(), data: { installation: installationFields(after) } },
    "the uninstalled installation, and no code",
  );
  t.not(deleted.headers["webhook-id"], deliveries[0]!.headers["webhook-id"], "a new delivery id per event");
  expectSigned(t, deleted, app.webhook_secret, "deleted delivery");

  t.equal((await test.admin("DELETE", `/admin/v1/installations/${installed.id}`)).statusCode, 204, "uninstalling again is a no-op");
  t.equal((await rows(test)).length, 2, "no second deleted event for an installation already uninstalled");
  await test.close();
  t.equal(hook.deliveries.length, 2);
});

t.test("reissuing a code POSTs installation.code_reissued with the new code", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  await deliveryCount(hook, 1);
  const reissued = (await test.admin("POST", `/admin/v1/installations/${installed.id}/code`)).json() as { code: string };
  const [, delivery] = await deliveryCount(hook, 2);
  const body = JSON.parse(delivery!.body);
  t.equal(body.type, "installation.code_reissued");
  t.equal(body.data.code, reissued.code, "the new code");
  t.not(body.data.code, installed.code);
  expectSigned(t, delivery!, app.webhook_secret, "code_reissued delivery");
});

t.test("the admin response does not wait for a slow receiver", async (t) => {
  const test = await buildWebhookApp(t);
  let answered = false;
  const hook = await receiver(t, (_request, _index, res) => {
    setTimeout(() => {
      answered = true;
      res.writeHead(200).end();
    }, 2000);
  });
  const app = await appWithWebhook(test, hook.url);

  const res = await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" });
  t.equal(res.statusCode, 201);
  t.notOk(answered, "the admin response arrived while the receiver had not answered yet");
  await until("the delivery to be logged as delivered", () => test.entries().some((e) => e.msg === "webhook delivered"));
  t.ok(answered);
  t.equal(hook.deliveries.length, 1, "delivered once, not retried");
});

t.test("a receiver answering 500: each attempt and its backoff are in the row; the same delivery succeeds later", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t, (request, index, res) => {
    if (index < 2) res.writeHead(500, { "content-type": "text/plain" }).end(`busy ${"x".repeat(5000)}`);
    else answer(200)(request, index, res);
  });
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  const [stored] = await rows(test);
  const created = stored!.createdAt.getTime();

  const first = await until("the first attempt's record", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null && r;
  });
  t.equal(first.status, "pending");
  t.equal(first.lastStatus, 500);
  t.equal(first.lastError, "HTTP 500");
  t.type(first.lastDurationMs, "number");
  t.equal(first.lastResponse!.length, 4096, "the first 4 KiB of the answer");
  t.ok(first.lastResponse!.startsWith("busy "));
  const wait1 = first.nextAttemptAt.getTime() - created;
  t.ok(wait1 >= 8_000 && wait1 <= 12_000, `first retry ~10 s later on the clock (${wait1} ms)`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(hook.deliveries.length, 1, "not retried before the clock reaches nextAttemptAt");

  test.clock.set(first.nextAttemptAt);
  const second = await until("the second attempt's record", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 2 && r.leaseUntil === null && r;
  });
  const wait2 = second.nextAttemptAt.getTime() - first.nextAttemptAt.getTime();
  t.ok(wait2 >= 16_000 && wait2 <= 24_000, `second retry ~20 s later (${wait2} ms): exponential`);

  test.clock.set(second.nextAttemptAt);
  const done = await until("delivered", async () => {
    const r = await row(test, stored!.id);
    return r.status === "delivered" && r;
  });
  t.equal(done.attempts, 3);
  t.equal(done.lastStatus, 200);
  t.equal(done.lastError, null);
  t.equal(hook.deliveries.length, 3, "three attempts, none after the success");
  t.equal(new Set(hook.deliveries.map((d) => d.headers["webhook-id"])).size, 1, "one webhook-id across the attempts");
  t.equal(new Set(hook.deliveries.map((d) => d.body)).size, 1, "the same body each time");
  t.equal(JSON.parse(hook.deliveries[2]!.body).data.code, installed.code);
  for (const [i, d] of hook.deliveries.entries()) expectSigned(t, d, app.webhook_secret, `attempt ${i + 1}`);
  t.same(
    test
      .entries()
      .filter((e) => e.msg === "webhook delivery failed; will retry")
      .map((e) => [e.attempt, e.failure]),
    [
      [1, "HTTP 500"],
      [2, "HTTP 500"],
    ],
    "each failure logged as a retry",
  );
});

t.test("a receiver that keeps failing is given up on after the give-up age, with an error log free of secrets", async (t) => {
  const cases = [
    { name: "always 500", responder: answer(500), failure: "HTTP 500" },
    {
      name: "a redirect (never followed)",
      responder: ((request, index, res) => {
        if (request.path === "/elsewhere") return answer(200)(request, index, res);
        res.writeHead(307, { location: "/elsewhere" }).end();
      }) as Responder,
      failure: "HTTP 307",
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const test = await buildWebhookApp(t, { APPGRANT_WEBHOOK_GIVE_UP_HOURS: "1" });
      const hook = await receiver(t, c.responder);
      const app = await appWithWebhook(test, hook.url);
      const installed = await install(test, app.client_id);
      const [stored] = await rows(test);
      let current = stored!;
      while (current.status === "pending") current = await nextAttempt(test, current);
      t.equal(current.status, "failed");
      t.equal(current.lastError, c.failure);
      t.ok(current.attempts >= 5 && current.attempts <= 12, `retried until an hour had passed (${current.attempts} attempts)`);
      t.ok(test.clock().getTime() - current.createdAt.getTime() <= 3_600_000, "given up within the age");
      const gaveUp = test.entries().find((e) => e.msg === "webhook delivery failed; giving up")!;
      t.equal(gaveUp.level, 50, "logged at error level");
      t.equal(gaveUp.failure, c.failure);
      t.equal(gaveUp.applicationId, app.id, "names the application");
      t.equal(gaveUp.deliveryId, stored!.id, "names the delivery");
      await test.close();
      t.equal(hook.deliveries.length, current.attempts, "one request per recorded attempt");
      t.ok(
        hook.deliveries.every((d) => d.path === "/hooks/appgrant"),
        "only the registered URL was called",
      );
      for (const secret of [installed.code, app.webhook_secret, app.client_secret!, hook.url]) {
        t.notOk(
          test.logs.some((line) => line.includes(secret)),
          `no log line contains ${secret.slice(0, 8)}…`,
        );
      }
      t.notOk(
        test.logs.some((line) => line.includes(hook.deliveries[0]!.headers["webhook-signature"] as string)),
        "nor a signature",
      );
    });
  }
});

t.test("a rotated webhook secret keeps signing next to the new one for the overlap, then only the new one", async (t) => {
  const test = await buildWebhookApp(t, { APPGRANT_WEBHOOK_SECRET_OVERLAP_HOURS: "2" });
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id, { account: "before" });
  const [before] = await deliveryCount(hook, 1);
  expectSigned(t, before!, app.webhook_secret, "before rotation");

  const rotated = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
  t.equal(rotated.statusCode, 201);
  const { webhook_secret: fresh } = rotated.json() as { webhook_secret: string };
  t.match(fresh, WHSEC);
  t.not(fresh, app.webhook_secret, "a new secret");
  t.notOk(
    test.logs.some((line) => line.includes(fresh)),
    "the new secret is not logged",
  );

  await install(test, app.client_id, { account: "during" });
  const [, during] = await deliveryCount(hook, 2);
  t.equal(JSON.parse(during!.body).data.installation.account, "during");
  t.equal((during!.headers["webhook-signature"] as string).split(" ").length, 2, "two signatures during the overlap");
  expectSigned(t, during!, fresh, "during the overlap, new secret");
  expectSigned(t, during!, app.webhook_secret, "during the overlap, old secret");

  test.clock.advance(2 * 3600 + 1);
  await install(test, app.client_id, { account: "after" });
  const [, , after] = await deliveryCount(hook, 3);
  t.equal((after!.headers["webhook-signature"] as string).split(" ").length, 1, "one signature after the overlap");
  expectSigned(t, after!, fresh, "after the overlap, new secret");
  expectNotSignedWith(t, after!, app.webhook_secret, "after the overlap, old secret");

  t.equal(
    (await test.admin("POST", "/admin/v1/applications/unknown-application-id/webhook-secret")).statusCode,
    404,
    "rotating for an unknown application is 404",
  );
});

t.test("a secret issued before the whsec_ form still signs: its bytes are the key", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const { encrypt } = await import("../../src/crypto/encryption.js");
  const { WEBHOOK_SECRET_PURPOSE } = await import("../../src/domain/applications.js");
  const legacy = "agw_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM";
  await test.app.domain.db.application.update({
    where: { id: app.id },
    data: { webhookSecretEncrypted: encrypt(test.app.domain.secretKey, WEBHOOK_SECRET_PURPOSE, legacy) },
  });
  await install(test, app.client_id);
  const [delivery] = await deliveryCount(hook, 1);
  t.ok(new Webhook(legacy, { format: "raw" }).verify(delivery!.body, delivery!.headers as Record<string, string>), "verifies with format: raw");
});

t.test("an attempt that outlasts the timeout fails as a timeout, within its deadline", async (t) => {
  const test = await buildWebhookApp(t, {}, { timeoutMs: 300 });
  const hook = await receiver(t, () => {}); // never answers
  const app = await appWithWebhook(test, hook.url);
  const started = performance.now();
  await install(test, app.client_id);
  const retry = await until("the retry log line", () => test.entries().find((e) => e.msg === "webhook delivery failed; will retry"));
  const elapsed = performance.now() - started;
  t.equal(retry.failure, "timeout");
  t.equal(hook.deliveries.length, 1, "the attempt reached the receiver");
  t.ok(elapsed >= 280, `the attempt waited for its deadline (${elapsed.toFixed(0)} ms)`);
  t.ok(elapsed < 5000, `bounded by it (${elapsed.toFixed(0)} ms)`);
  const [stored] = await rows(test);
  t.equal(stored!.lastError, "timeout");
  t.equal(stored!.lastStatus, null);
});

t.test("an application without a webhook URL gets no delivery", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const none = await appWithWebhook(test, null);
  const cleared = await appWithWebhook(test, hook.url);
  const patched = await test.admin("PATCH", `/admin/v1/applications/${cleared.id}`, { webhook_url: null });
  t.equal(patched.statusCode, 200);
  const control = await appWithWebhook(test, hook.url);

  await install(test, none.client_id);
  await install(test, cleared.client_id);
  const controlled = await install(test, control.client_id);
  await deliveryCount(hook, 1);
  t.equal((await rows(test)).length, 1, "one delivery row, for the application with a webhook URL");
  await test.close();
  t.equal(hook.deliveries.length, 1, "only the application with a webhook URL got one");
  t.equal(JSON.parse(hook.deliveries[0]!.body).data.installation.id, controlled.id);
});

t.test("a code exchanged before its delivery is sent is erased and not sent", async (t) => {
  const test = await buildWebhookApp(t);
  let up = false;
  const hook = await receiver(t, (request, index, res) => answer(up ? 200 : 503)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  const [stored] = await rows(test);
  const failed = await until("a failed attempt", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null && r;
  });
  t.ok(JSON.parse(hook.deliveries[0]!.body).data.code, "the first attempt carried the code");
  expectTokens(t, await exchange(test, app, installed.code), { installation_id: installed.id });

  up = true;
  test.clock.set(failed.nextAttemptAt);
  const done = await until("delivered", async () => {
    const r = await row(test, stored!.id);
    return r.status === "delivered" && r;
  });
  t.equal(done.codeEncrypted, null, "the sealed code is erased");
  const last = JSON.parse(hook.deliveries.at(-1)!.body);
  t.notOk("code" in last.data, "the retry carries no code");
  t.equal(last.data.installation.id, installed.id);
});

t.test("a receiver down, then up: an installation's deliveries arrive in order", async (t) => {
  const test = await buildWebhookApp(t);
  let up = false;
  const hook = await receiver(t, (request, index, res) => answer(up ? 200 : 503)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  for (let i = 0; i < 3; i++) await test.admin("POST", `/admin/v1/installations/${installed.id}/code`);
  await test.admin("DELETE", `/admin/v1/installations/${installed.id}`);
  const other = await install(test, app.client_id, { account: "other" });
  const expected = await rows(test);
  t.equal(expected.length, 6);
  await until("the first attempts", async () => (await rows(test)).filter((r) => r.attempts > 0 && r.leaseUntil === null).length === 2);
  t.same(
    hook.deliveries.map((d) => JSON.parse(d.body).data.installation.id).sort(),
    [installed.id, other.id].sort(),
    "while the receiver is down, only the oldest delivery of each installation is tried",
  );

  up = true;
  const deadline = performance.now() + 20_000;
  while ((await rows(test)).some((r) => r.status === "pending") && performance.now() < deadline) {
    test.clock.advance(3600);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  const final = await rows(test);
  t.ok(
    final.every((r) => r.status === "delivered"),
    "all delivered",
  );
  const ids = (installationId: string) =>
    hook.deliveries
      .filter((d) => d.headers["webhook-signature"] && JSON.parse(d.body).data.installation.id === installationId)
      .map((d) => d.headers["webhook-id"] as string);
  const firstOf = (list: string[]) => list.filter((id, i) => list.indexOf(id) === i);
  t.same(
    firstOf(ids(installed.id)),
    expected.filter((r) => r.installationId === installed.id).map((r) => r.id),
    "each installation's deliveries arrived in the order of their events",
  );
  t.same(
    hook.deliveries.filter((d) => JSON.parse(d.body).data.installation.id === installed.id).map((d) => JSON.parse(d.body).type),
    ["installation.created", "installation.created", ...Array(3).fill("installation.code_reissued"), "installation.deleted"],
  );
});

t.test("accepting an authorization request that creates an installation sends created, with the redirect's code", async (t) => {
  const test = await buildWebhookApp(t, { APPGRANT_CONSENT_URL: "https://platform.example/consent" });
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);

  async function authorizeAndAccept(state: string, account: string): Promise<URL> {
    const query = new URLSearchParams({ response_type: "code", client_id: app.client_id, state, scope: "read" });
    const authorize = await test.app.inject({ method: "GET", url: `/oauth/authorize?${query}` });
    if (authorize.statusCode !== 302) throw new Error(`authorize: ${authorize.statusCode} ${authorize.body}`);
    const requestId = new URL(authorize.headers.location as string).searchParams.get("request_id");
    const accepted = await test.admin("POST", `/admin/v1/authorization-requests/${requestId}/accept`, { account });
    if (accepted.statusCode !== 200) throw new Error(`accept: ${accepted.statusCode} ${accepted.body}`);
    return new URL((accepted.json() as { redirect_to: string }).redirect_to);
  }

  const redirect = await authorizeAndAccept("s1", "umbrella");
  const code = redirect.searchParams.get("code");
  t.ok(code, "the redirect carries a code");
  const [delivery] = await deliveryCount(hook, 1);
  const body = JSON.parse(delivery!.body) as { type: string; data: { code: string; installation: Record<string, unknown> } };
  t.equal(body.type, "installation.created");
  t.equal(body.data.code, code, "the webhook's code is the one in the redirect");
  t.equal(body.data.installation.account, "umbrella");
  t.same(body.data.installation.scopes, ["read"]);
  const listed = (await test.admin("GET", `/admin/v1/installations?client_id=${app.client_id}`)).json() as { items: Record<string, unknown>[] };
  t.strictSame(body.data.installation, installationFields(listed.items[0]!), "the installation as the admin API shows it");
  expectSigned(t, delivery!, app.webhook_secret, "delivery");

  // Accepting again for the same account reuses the installation: nothing is created, nothing sent.
  await authorizeAndAccept("s2", "umbrella");
  await test.close();
  t.equal(hook.deliveries.length, 1, "no created event when the active installation is reused");
});

t.test("the admin API lists an application's deliveries, shows one and redelivers it under the same webhook-id", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t, (request, index, res) => answer(index === 0 ? 500 : 200)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id);
  const [stored] = await rows(test);
  await until("the failed attempt", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null;
  });

  const listed = await test.admin("GET", `/admin/v1/applications/${app.id}/deliveries`);
  t.equal(listed.statusCode, 200);
  const { items, next_cursor } = listed.json() as { items: Record<string, unknown>[]; next_cursor: string | null };
  t.equal(next_cursor, null);
  t.equal(items.length, 1);
  t.match(items[0], { id: stored!.id, type: "installation.created", status: "pending", attempts: 1, last_status: 500, last_error: "HTTP 500" });
  t.type(items[0]!.next_attempt_at, "string");
  t.notOk(JSON.stringify(items).includes("agc_"), "no code in the listing");

  const shown = await test.admin("GET", `/admin/v1/deliveries/${stored!.id}`);
  t.equal(shown.statusCode, 200);
  const { request: sent, ...summary } = shown.json() as { request: { headers: Record<string, string>; body: { data: { code?: string } } } };
  t.same(summary, items[0], "the listing's fields");
  t.equal(sent.headers["webhook-id"], stored!.id);
  const received = JSON.parse(hook.deliveries[0]!.body) as { data: { code: string } };
  t.match(received.data.code, /^agc_/, "the receiver got the code");
  t.same(sent.body, { ...received, data: { ...received.data, code: "agc_…" } }, "the request as sent, its code redacted");
  t.notOk(shown.body.includes(received.data.code), "the admin API never shows the code again");
  t.equal((await test.admin("GET", "/admin/v1/deliveries/msg_unknown")).statusCode, 404);
  t.equal((await test.admin("GET", "/admin/v1/applications/unknown/deliveries")).statusCode, 404);

  // Not due for ~10 s on the clock; redelivering sends it now, under the same id.
  const redelivered = await test.admin("POST", `/admin/v1/deliveries/${stored!.id}/redeliver`);
  t.equal(redelivered.statusCode, 200);
  t.equal((redelivered.json() as { status: string }).status, "pending");
  await until("delivered", async () => (await row(test, stored!.id)).status === "delivered");
  t.equal(hook.deliveries.length, 2);
  t.equal(hook.deliveries[1]!.headers["webhook-id"], stored!.id, "the same webhook-id");

  const again = await test.admin("POST", `/admin/v1/deliveries/${stored!.id}/redeliver`);
  t.equal(again.statusCode, 200, "a delivered one can be sent again too");
  await deliveryCount(hook, 3);
  t.equal(hook.deliveries[2]!.headers["webhook-id"], stored!.id);
  t.equal((await test.admin("POST", "/admin/v1/deliveries/msg_unknown/redeliver")).statusCode, 404);
});

t.test("an endpoint failing long enough is paused (application.webhooks_paused) until PATCH webhooks_paused: false", async (t) => {
  // The thresholds as an operator sets them: 5 failures in a row spanning 2 hours (defaults: 20 and 24).
  const test = await buildWebhookApp(t, { APPGRANT_WEBHOOK_PAUSE_AFTER_FAILURES: "5", APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS: "2" });
  let up = false;
  const hook = await receiver(t, (request, index, res) => answer(up ? 200 : 500)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id);
  const [stored] = await rows(test);
  const started = test.clock().getTime();
  let current = stored!;
  for (;;) {
    const application = await test.app.domain.db.application.findUniqueOrThrow({ where: { id: app.id } });
    if (application.webhooksPausedAt !== null) break;
    current = await nextAttempt(test, current);
    // The pause follows the record of the attempt that reached the threshold, in the same round.
    await test.app.webhooks.idle();
  }
  const elapsed = test.clock().getTime() - started;
  t.ok(elapsed >= 2 * 3_600_000, "paused only once the failures spanned two hours");
  t.ok(elapsed < 24 * 3_600_000, "not a day: the configured span, not the default");
  t.ok(current.attempts >= 5, "after at least five failures");
  t.equal(current.status, "pending", "the delivery stays pending");
  const view = async () => (await test.admin("GET", `/admin/v1/applications/${app.id}`)).json() as { webhooks_paused_at: string | null };
  const pausedAt = (await test.app.domain.db.application.findUniqueOrThrow({ where: { id: app.id } })).webhooksPausedAt!;
  t.equal((await view()).webhooks_paused_at, pausedAt.toISOString(), "the application shows since when its webhooks are paused");
  const paused = await test.app.domain.db.event.findFirstOrThrow({ where: { type: "application.webhooks_paused", applicationId: app.id } });
  t.match(JSON.parse(paused.data), { consecutive_failures: current.attempts });
  const sent = hook.deliveries.length;
  test.clock.advance(7 * 24 * 3600);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(hook.deliveries.length, sent, "nothing is sent while paused");

  up = true;
  const resumed = await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false });
  t.equal(resumed.statusCode, 200);
  t.equal(
    (await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: true })).statusCode,
    400,
    "pausing is not an admin's call",
  );
  t.equal((resumed.json() as { webhooks_paused_at: string | null }).webhooks_paused_at, null, "resumed: no longer paused");
  await until("delivered after resuming", async () => (await row(test, stored!.id)).status === "delivered");
  t.ok(
    await test.app.domain.db.event.findFirst({ where: { type: "application.webhooks_resumed", applicationId: app.id } }),
    "application.webhooks_resumed",
  );
});

t.test(
  "a leaked webhook secret replaced (APPGRANT_LEAKED_SECRET_ACTION=revoke) pauses the webhooks until an operator rotates and resumes",
  async (t) => {
    const test = await buildWebhookApp(t, { APPGRANT_LEAKED_SECRET_ACTION: "revoke" });
    // The receiver verifies, as a real one does, with the secrets the applications know.
    const known = new Map<string, string>();
    const hook = await receiver(t, (request, index, res) => {
      const genuine = [...known.values()].some((secret) => {
        try {
          verified(secret, request);
          return true;
        } catch {
          return false;
        }
      });
      answer(genuine ? 200 : 401)(request, index, res);
    });
    const app = await appWithWebhook(test, hook.url);
    const witness = await appWithWebhook(test, hook.url, { name: "Witness" });
    known.set(app.id, app.webhook_secret).set(witness.id, witness.webhook_secret);
    const db = test.app.domain.db;

    const reported = await test.app.inject({
      method: "POST",
      url: "/oauth/credentials/revoke",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ credentials: [app.webhook_secret] }),
    });
    t.equal(reported.statusCode, 202);
    const pausedAt = test.clock();
    const application = await db.application.findUniqueOrThrow({ where: { id: app.id } });
    t.not(application.webhookSecretHash, sha256(app.webhook_secret), "the leaked secret signs nothing more");
    t.same(application.webhooksPausedAt, pausedAt, "the secret is replaced by one nobody knows, and the webhooks are paused with it");
    const view = (await test.admin("GET", `/admin/v1/applications/${app.id}`)).json() as { webhooks_paused_at: string | null };
    t.equal(view.webhooks_paused_at, pausedAt.toISOString(), "the application shows it");
    const pausedEvent = await db.event.findFirstOrThrow({ where: { type: "application.webhooks_paused", applicationId: app.id } });
    t.same(JSON.parse(pausedEvent.data), { reason: "webhook_secret_leaked" }, "application.webhooks_paused says why");
    t.equal(pausedEvent.actorType, "system");

    await install(test, app.client_id, { account: "held" });
    test.clock.advance(73 * 3600); // past APPGRANT_WEBHOOK_GIVE_UP_HOURS (72)
    await install(test, witness.client_id, { account: "witness" });
    // Once the witness's delivery, recorded after them, is delivered, the worker has had its rounds at the held ones.
    await until(
      "the witness's delivery",
      async () => (await db.webhookDelivery.findFirst({ where: { applicationId: witness.id, status: "delivered" } })) !== null,
    );
    const held = await db.webhookDelivery.findMany({ where: { applicationId: app.id }, orderBy: { id: "asc" } });
    t.same(
      held.map((row) => [row.type, row.status, row.attempts]),
      [
        ["credential.leaked", "pending", 0],
        ["installation.created", "pending", 0],
      ],
      "the paused application's deliveries were not attempted (none failed against a secret its receiver cannot know), nor given up",
    );

    const rotated = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
    t.equal(rotated.statusCode, 201);
    known.set(app.id, (rotated.json() as { webhook_secret: string }).webhook_secret);
    t.equal((await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false })).statusCode, 200, "resumed");
    await until("the held deliveries, delivered", async () => {
      const rows = await db.webhookDelivery.findMany({ where: { applicationId: app.id } });
      return rows.every((row) => row.status === "delivered") && rows;
    });
    const received = hook.deliveries.filter(
      (delivery) => delivery.headers["webhook-id"] !== undefined && held.some((row) => row.id === delivery.headers["webhook-id"]),
    );
    t.same(
      received.map((delivery) => (JSON.parse(delivery.body) as { type: string }).type),
      ["credential.leaked", "installation.created"],
      "each sent once, after the resume, in order",
    );
    for (const delivery of received) expectSigned(t, delivery, known.get(app.id)!, "a held delivery");
  },
);

t.test("an application's deliveries are listed newest first, a page at a time", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  for (const account of ["first", "second", "third"]) {
    await install(test, app.client_id, { account });
    test.clock.advance(1);
  }
  const stored = await rows(test); // oldest first
  t.equal(stored.length, 3);
  const page = async (query: string) => {
    const res = await test.admin("GET", `/admin/v1/applications/${app.id}/deliveries?${query}`);
    t.equal(res.statusCode, 200);
    return res.json() as { items: { id: string }[]; next_cursor: string | null };
  };
  const one = await page("limit=2");
  t.same(
    one.items.map((d) => d.id),
    [stored[2]!.id, stored[1]!.id],
    "the newest two",
  );
  t.type(one.next_cursor, "string");
  const two = await page(`limit=2&cursor=${one.next_cursor}`);
  t.same(
    two.items.map((d) => d.id),
    [stored[0]!.id],
    "then the oldest",
  );
  t.equal(two.next_cursor, null);
  const documented = (test.app.swagger() as { paths: Record<string, { get: { summary: string } }> }).paths["/admin/v1/applications/{id}/deliveries"]!
    .get.summary;
  t.match(documented, /newest first/, "the API's documentation says so");
  t.notMatch(documented, /oldest first/);
});

t.test("a webhook secret no configured key opens: the attempt fails as such, is retried, and the worker goes on", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const broken = await appWithWebhook(test, hook.url);
  const healthy = await appWithWebhook(test, hook.url);
  // Sealed under a key this server does not have (the operator dropped it before `keys reencrypt`).
  const { encrypt } = await import("../../src/crypto/encryption.js");
  const { ServerKeys } = await import("../../src/crypto/server-keys.js");
  const { WEBHOOK_SECRET_PURPOSE } = await import("../../src/domain/applications.js");
  await test.app.domain.db.application.update({
    where: { id: broken.id },
    data: { webhookSecretEncrypted: encrypt(new ServerKeys(["9".repeat(64)]), WEBHOOK_SECRET_PURPOSE, "whsec_lost") },
  });
  await install(test, broken.client_id, { account: "broken" });
  const [stored] = await rows(test);
  const attempted = await until("the attempt recorded", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null && r;
  });
  t.equal(attempted.status, "pending", "retried later: the key may be put back");
  t.equal(attempted.lastError, "webhook secret unreadable");
  t.ok(attempted.nextAttemptAt > test.clock(), "with a backoff");
  t.equal(hook.deliveries.length, 0, "nothing unsigned is sent");
  const logged = test.entries().find((e) => e.msg.startsWith("webhook delivery failed: no configured server key opens"));
  t.ok(logged, "an error log says why");
  t.equal(logged?.level, 50);
  t.equal(logged?.applicationId, broken.id);
  t.notOk(
    test.entries().some((e) => e.msg.includes("outbox could not be read")),
    "not reported as a database failure",
  );

  await install(test, healthy.client_id, { account: "healthy" });
  await deliveryCount(hook, 1);
  t.equal(JSON.parse(hook.deliveries[0]!.body).data.installation.account, "healthy", "other applications' deliveries go on");
});

t.test("a redelivery of a delivery given up long ago gets retries again, for the give-up age from the redelivery", async (t) => {
  const test = await buildWebhookApp(t, { APPGRANT_WEBHOOK_GIVE_UP_HOURS: "1" });
  const hook = await receiver(t, answer(500));
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id);
  const [stored] = await rows(test);
  let current = stored!;
  while (current.status === "pending") current = await nextAttempt(test, current);
  t.equal(current.status, "failed", "given up after an hour");

  test.clock.advance(2 * 24 * 3600);
  const attempts = current.attempts;
  t.equal((await test.admin("POST", `/admin/v1/deliveries/${stored!.id}/redeliver`)).statusCode, 200);
  const redelivered = await until("the redelivered attempt", async () => {
    const r = await row(test, stored!.id);
    return r.attempts > attempts && r.leaseUntil === null && r;
  });
  t.equal(redelivered.status, "pending", "a failed redelivery is retried, not given up at once");
  t.equal(redelivered.lastError, "HTTP 500");
  t.ok(redelivered.nextAttemptAt > test.clock(), "at its backoff");
});

t.test("webhooks resumed after a pause longer than the give-up age are retried, not given up at the first failure", async (t) => {
  const test = await buildWebhookApp(t); // the default give-up age: 72 hours
  const hook = await receiver(t, answer(500));
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id);
  const [stored] = await rows(test);
  const first = await until("the first failed attempt", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null && r;
  });
  const { pauseWebhooks } = await import("../../src/domain/webhook-pause.js");
  t.ok(await pauseWebhooks(test.app.domain, app.id, { failures: 1, since: first.createdAt }), "paused");

  test.clock.advance(73 * 3600); // paused for longer than the give-up age
  const resumed = await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false });
  t.equal(resumed.statusCode, 200);
  const retried = await until("the attempt after resuming", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 2 && r.leaseUntil === null && r;
  });
  t.equal(retried.status, "pending", "the receiver still fails: retried, not failed for good");
  t.ok(retried.nextAttemptAt > test.clock(), "at its backoff");
  t.same(retried.redeliveredAt, test.clock(), "the give-up age counts from the resume");
});

t.test("PATCH webhooks_paused: false resumes only with a valid patch, and alone records no application.updated", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t, answer(500));
  const app = await appWithWebhook(test, hook.url);
  const { pauseWebhooks } = await import("../../src/domain/webhook-pause.js");
  const db = test.app.domain.db;
  const pause = () => pauseWebhooks(test.app.domain, app.id, { failures: 20, since: test.clock() });
  t.ok(await pause());
  await install(test, app.client_id); // held: the worker claims nothing of a paused application
  const application = () => db.application.findUniqueOrThrow({ where: { id: app.id } });
  const events = async (type: string) => db.event.count({ where: { type, applicationId: app.id } });
  const before = { application: await application(), deliveries: await rows(test), updated: await events("application.updated") };
  test.clock.advance(60);

  for (const [name, body] of [
    ["a relative redirect URI", { redirect_uris: ["cb"] }],
    ["a grant type the server does not offer", { grant_types: ["password"] }],
  ] as const) {
    const res = await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false, ...body });
    t.equal(res.statusCode, 400, `${name}: 400`);
    t.same(await application(), before.application, `${name}: still paused, nothing changed`);
    t.same(await rows(test), before.deliveries, `${name}: the held deliveries untouched`);
    t.equal(await events("application.webhooks_resumed"), 0, `${name}: no application.webhooks_resumed`);
  }

  const resumed = await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false });
  t.equal(resumed.statusCode, 200);
  t.equal((resumed.json() as { webhooks_paused_at: string | null }).webhooks_paused_at, null, "resumed");
  t.equal(await events("application.webhooks_resumed"), 1);
  t.equal(await events("application.updated"), before.updated, "a resume alone is not an update: no application.updated");

  t.ok(await pause(), "paused again");
  const both = await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false, name: "Renamed" });
  t.equal(both.statusCode, 200);
  t.match(both.json(), { name: "Renamed", webhooks_paused_at: null });
  t.equal(await events("application.webhooks_resumed"), 2, "resumed");
  const updated = await db.event.findFirstOrThrow({ where: { type: "application.updated", applicationId: app.id }, orderBy: { id: "desc" } });
  t.match(JSON.parse(updated.data), { changed: ["name"], name: "Renamed" }, "and updated, the update naming what changed");
});

t.test("redelivering a delivery being attempted now is 409: its lease is kept and no second send overlaps", async (t) => {
  const test = await buildWebhookApp(t);
  const held: ServerResponse[] = [];
  const hook = await receiver(t, (_request, _index, res) => held.push(res)); // answers when the test says
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id);
  await deliveryCount(hook, 1);
  const [inFlight] = await rows(test);
  t.ok(inFlight!.leaseUntil && inFlight!.leaseUntil > test.clock(), "the attempt holds its lease");

  const refused = await test.admin("POST", `/admin/v1/deliveries/${inFlight!.id}/redeliver`);
  t.equal(refused.statusCode, 409);
  t.match(refused.json(), { code: "conflict", message: /being attempted now/ });
  t.same(await row(test, inFlight!.id), inFlight, "the row is as the attempt left it, its lease included");

  held[0]!.writeHead(200).end();
  const done = await until("the running attempt's outcome recorded (its lease was not taken from it)", async () => {
    const r = await row(test, inFlight!.id);
    return r.status === "delivered" && r.leaseUntil === null && r;
  });
  t.equal(done.attempts, 1);
  t.equal(hook.deliveries.length, 1, "one request: no overlapping second send");

  const again = await test.admin("POST", `/admin/v1/deliveries/${inFlight!.id}/redeliver`);
  t.equal(again.statusCode, 200, "once the attempt has ended, it can be redelivered");
  t.match(again.json(), { status: "pending", held: null });
  await deliveryCount(hook, 2);
  held[1]!.writeHead(200).end();
});

t.test("redelivering a delivery whose webhooks are held says so: it stays pending until resumed or unsuspended", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);
  const [delivered] = await until("the delivery", async () => {
    const all = await rows(test);
    return all[0]?.status === "delivered" && all;
  });

  t.equal((await test.admin("POST", `/admin/v1/installations/${installed.id}/suspend`, {})).statusCode, 200);
  const [, suspendedEvent] = await deliveryCount(hook, 2);
  t.equal(JSON.parse(suspendedEvent!.body).type, "installation.suspended");
  await until("installation.suspended delivered", async () => (await rows(test)).every((r) => r.status === "delivered"));
  const suspended = await test.admin("POST", `/admin/v1/deliveries/${delivered!.id}/redeliver`);
  t.equal(suspended.statusCode, 200);
  t.match(suspended.json(), { status: "pending", held: "installation_suspended" }, "held while the installation is suspended");

  const { pauseWebhooks } = await import("../../src/domain/webhook-pause.js");
  t.ok(await pauseWebhooks(test.app.domain, app.id, { failures: 20, since: test.clock() }));
  const paused = await test.admin("POST", `/admin/v1/deliveries/${delivered!.id}/redeliver`);
  t.equal(paused.statusCode, 200);
  t.match(paused.json(), { status: "pending", held: "webhooks_paused" }, "held while the application's webhooks are paused");
  t.equal(hook.deliveries.length, 2, "not sent");

  t.equal((await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false })).statusCode, 200);
  t.equal((await test.admin("POST", `/admin/v1/installations/${installed.id}/unsuspend`, {})).statusCode, 200);
  const [, , redelivered] = await deliveryCount(hook, 3);
  t.equal(redelivered!.headers["webhook-id"], delivered!.id, "sent once released");
});

t.test("a delivery that ends, delivered or given up, keeps no sealed code in its row", async (t) => {
  await t.test("delivered", async (t) => {
    const test = await buildWebhookApp(t);
    const hook = await receiver(t);
    const app = await appWithWebhook(test, hook.url);
    const installed = await install(test, app.client_id);
    const [pending] = await rows(test);
    const done = await until("delivered", async () => {
      const r = await row(test, pending!.id);
      return r.status === "delivered" && r;
    });
    t.equal(JSON.parse(hook.deliveries[0]!.body).data.code, installed.code, "the code was sent, still valid");
    t.equal(done.codeEncrypted, null, "erased with the success");
  });
  await t.test("given up while the code is still valid", async (t) => {
    const test = await buildWebhookApp(t, {}, { attempts: 1 });
    const hook = await receiver(t, answer(500));
    const app = await appWithWebhook(test, hook.url);
    await install(test, app.client_id);
    const [pending] = await rows(test);
    const failed = await until("given up", async () => {
      const r = await row(test, pending!.id);
      return r.status === "failed" && r;
    });
    t.ok(pending!.codeExpiresAt! > test.clock(), "the code had not expired");
    t.equal(failed.codeEncrypted, null, "erased when given up");
  });
});

t.test("GET /admin/v1/deliveries/{id} shows the headers the last attempt sent, its webhook-timestamp included, never a signature", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t, (request, index, res) => answer(index === 0 ? 500 : 200)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  const { pauseWebhooks } = await import("../../src/domain/webhook-pause.js");
  await pauseWebhooks(test.app.domain, app.id, { failures: 20, since: test.clock() });
  await install(test, app.client_id);
  const [stored] = await rows(test);
  const shown = async () => {
    const res = await test.admin("GET", `/admin/v1/deliveries/${stored!.id}`);
    t.equal(res.statusCode, 200);
    return (res.json() as { request: { headers: Record<string, string> } }).request.headers;
  };

  t.same(
    await shown(),
    { "webhook-id": stored!.id, "content-type": "application/json", "user-agent": "appgrant-webhooks" },
    "before any attempt: no webhook-timestamp yet",
  );

  await test.admin("PATCH", `/admin/v1/applications/${app.id}`, { webhooks_paused: false });
  const first = await until("the first attempt's record", async () => {
    const r = await row(test, stored!.id);
    return r.attempts === 1 && r.leaseUntil === null && r;
  });
  const sent = (index: number) => hook.deliveries[index]!.headers;
  const expected = (index: number) => ({
    "webhook-id": sent(index)["webhook-id"],
    "webhook-timestamp": sent(index)["webhook-timestamp"],
    "content-type": sent(index)["content-type"],
    "user-agent": sent(index)["user-agent"],
  });
  t.same(await shown(), expected(0), "the headers the attempt sent, but its signature");

  test.clock.set(first.nextAttemptAt);
  await until("delivered", async () => (await row(test, stored!.id)).status === "delivered");
  t.same(await shown(), expected(1), "after another attempt, that attempt's headers");
});
