// Installation webhooks, against a real HTTP receiver on 127.0.0.1: what is sent
// (action, installation, code), how it is signed (checked with verify() and with an
// independent HMAC computed here), that the admin response never waits for the
// receiver, retries with backoff, giving up with a log line that leaks nothing,
// secret rotation, and the events an authorization request's acceptance raises.
import t, { type Test } from "tap";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verify } from "../../src/webhooks/signature.js";
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
 * Like buildTestApp, with the webhook settings a test needs (short backoff, few attempts), opted in
 * to internal receivers: the receivers here listen on 127.0.0.1, which the SSRF policy refuses by
 * default (test/fault/ssrf.test.ts).
 */
async function buildWebhookApp(
  t: Test,
  env: Record<string, string> = {},
  webhooks: { attempts?: number; baseDelayMs?: number; timeoutMs?: number } = { baseDelayMs: 20, attempts: 3 },
): Promise<WebhookTestApp> {
  const test = await buildTestApp(t, { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true", ...env }, { webhooks });
  return { ...test, entries: () => test.logs.map((line) => JSON.parse(line)) };
}

/** Polls `check` every 10 ms until it returns a truthy value; fails after `timeoutMs` (generous: CI machines are loaded). */
async function until<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const deliveryCount = (hook: Receiver, n: number) => until(`${n} deliveries`, () => hook.deliveries.length >= n && hook.deliveries);

// ---------------------------------------------------------------- signatures

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The signature checked without trusting src/: parse the header, recompute the HMAC with node:crypto. */
function independentlyValid(secret: string, header: string, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const [, timestamp, mac] = match;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
  return expected === mac && Math.abs(nowSeconds() - Number(timestamp)) <= 300;
}

function expectSigned(t: Test, delivery: Delivery, secret: string, what: string): void {
  const header = delivery.headers["appgrant-signature"];
  t.type(header, "string", `${what}: Appgrant-Signature header present`);
  t.match(header, /^t=\d+,v1=[0-9a-f]{64}$/, `${what}: header is t=<unix>,v1=<hex>`);
  t.ok(verify(secret, header as string, delivery.body, nowSeconds()), `${what}: verify() accepts it with the secret`);
  t.ok(independentlyValid(secret, header as string, delivery.body), `${what}: an HMAC-SHA256 recomputed here matches`);
}

function expectNotSignedWith(t: Test, delivery: Delivery, secret: string, what: string): void {
  const header = delivery.headers["appgrant-signature"] as string;
  t.notOk(verify(secret, header, delivery.body, nowSeconds()), `${what}: verify() refuses it`);
  t.notOk(independentlyValid(secret, header, delivery.body), `${what}: the recomputed HMAC does not match`);
}

interface CreatedApp {
  id: string;
  client_id: string;
  client_secret: string | null;
  webhook_secret: string;
}

async function appWithWebhook(test: TestApp, url: string | null, body: Record<string, unknown> = {}): Promise<CreatedApp> {
  const created = (await createApp(test, { ...(url !== null ? { webhook_url: url } : {}), ...body })) as unknown as CreatedApp;
  return created;
}

const installationFields = (json: Record<string, unknown>) => ({
  id: json.id,
  client_id: json.client_id,
  account: json.account,
  scopes: json.scopes,
  status: json.status,
  created_at: json.created_at,
  uninstalled_at: json.uninstalled_at,
});

// ---------------------------------------------------------------- tests

t.test("creating an installation POSTs a signed {action: created, installation, code} to the webhook URL", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  t.match(app.webhook_secret, /^agw_[0-9A-Za-z]{49}$/, "the webhook secret is shown once, at creation");

  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read"] });
  const [delivery] = await deliveryCount(hook, 1);

  t.equal(delivery!.method, "POST");
  t.equal(delivery!.path, "/hooks/appgrant", "sent to the registered URL, path included");
  t.match(delivery!.headers["content-type"], /^application\/json/);
  t.equal(delivery!.headers["appgrant-event"], "installation.created");
  t.match(delivery!.headers["appgrant-delivery"], /^[0-9a-f-]{36}$/, "a delivery id");
  t.strictSame(
    JSON.parse(delivery!.body),
    {
      action: "created",
      installation: installationFields(installed),
      code: installed.code,
    },
    "body: action, the installation as the admin API shows it, and the code the admin response carried",
  );
  t.equal(JSON.parse(delivery!.body).installation.scopes.join(" "), "read");
  expectSigned(t, delivery!, app.webhook_secret, "delivery");

  // The code in the webhook is the real one: the application can exchange it.
  const code = JSON.parse(delivery!.body).code as string;
  expectTokens(t, await exchange(test, app, code), { installation_id: installed.id, scope: "read" });
});

t.test("a signature does not verify with a wrong secret, a tampered body, a moved timestamp or after the tolerance", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  const other = await appWithWebhook(test, null);
  await install(test, app.client_id);
  const [delivery] = await deliveryCount(hook, 1);
  const header = delivery!.headers["appgrant-signature"] as string;
  const timestamp = Number(/t=(\d+)/.exec(header)![1]);
  const body = delivery!.body;
  const parsed = JSON.parse(body) as { code: string; installation: { account: string } };

  expectSigned(t, delivery!, app.webhook_secret, "the genuine delivery");
  const forgeries = [
    { name: "another application's webhook secret", secret: other.webhook_secret, header, body },
    {
      name: "the secret with one character changed",
      secret: app.webhook_secret.slice(0, -1) + (app.webhook_secret.endsWith("A") ? "B" : "A"),
      header,
      body,
    },
    {
      name: "a body with another code",
      secret: app.webhook_secret,
      header,
      body: JSON.stringify({ ...parsed, code: parsed.code.replace(/.$/, "x") }),
    },
    { name: "a body with another account", secret: app.webhook_secret, header, body: body.replace('"acme"', '"evil"') },
    { name: "a body with a trailing space", secret: app.webhook_secret, header, body: `${body} ` },
    { name: "the timestamp moved by one second", secret: app.webhook_secret, header: header.replace(`t=${timestamp}`, `t=${timestamp + 1}`), body },
    { name: "no v1 part", secret: app.webhook_secret, header: `t=${timestamp}`, body },
  ];
  for (const f of forgeries) {
    t.not(f.body + f.header + f.secret, body + header + app.webhook_secret, `${f.name}: really differs`);
    t.notOk(verify(f.secret, f.header, f.body, nowSeconds()), `${f.name}: verify() refuses`);
    t.notOk(independentlyValid(f.secret, f.header, f.body), `${f.name}: the recomputed HMAC does not match`);
  }
  t.notOk(verify(app.webhook_secret, header, body, timestamp + 301), "verify() refuses a delivery older than five minutes (replay)");
  t.ok(verify(app.webhook_secret, header, body, timestamp + 299), "…and accepts it within the tolerance");
});

t.test("uninstalling POSTs a signed {action: deleted}, once, without a code", async (t) => {
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
  t.equal(deleted.headers["appgrant-event"], "installation.deleted");
  const after = (await test.admin("GET", `/admin/v1/installations/${installed.id}`)).json() as Record<string, unknown>;
  t.strictSame(JSON.parse(deleted.body), { action: "deleted", installation: installationFields(after) }, "the uninstalled installation, and no code");
  t.equal(JSON.parse(deleted.body).installation.status, "uninstalled");
  t.equal(JSON.parse(deleted.body).installation.uninstalled_at, test.clock().toISOString());
  t.not(deleted.headers["appgrant-delivery"], deliveries[0]!.headers["appgrant-delivery"], "a new delivery id per event");
  expectSigned(t, deleted, app.webhook_secret, "deleted delivery");

  t.equal((await test.admin("DELETE", `/admin/v1/installations/${installed.id}`)).statusCode, 204, "uninstalling again is a no-op");
  await test.close(); // waits for anything still being delivered
  t.equal(hook.deliveries.length, 2, "no second deleted event for an installation already uninstalled");
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

  await until("the slow receiver to answer", () => answered);
  await until("the delivery to be logged as delivered", () => test.entries().some((e) => e.msg === "webhook delivered"));
  t.equal(hook.deliveries.length, 1, "delivered once, not retried");
});

t.test("a receiver answering 500 twice, then 200, gets the same delivery three times, with backoff", async (t) => {
  const test = await buildWebhookApp(t, {}, { baseDelayMs: 20, attempts: 3 });
  const hook = await receiver(t, (request, index, res) => answer(index < 2 ? 500 : 200)(request, index, res));
  const app = await appWithWebhook(test, hook.url);
  const installed = await install(test, app.client_id);

  const delivered = await until("the delivered log line", () => test.entries().find((e) => e.msg === "webhook delivered"));
  t.equal(delivered.attempt, 3, "delivered on the third attempt");
  await test.close();
  t.equal(hook.deliveries.length, 3, "three attempts, none after the success");

  const ids = new Set(hook.deliveries.map((d) => d.headers["appgrant-delivery"]));
  t.equal(ids.size, 1, "one delivery id across the attempts");
  t.equal(new Set(hook.deliveries.map((d) => d.body)).size, 1, "the same body each time");
  t.equal(JSON.parse(hook.deliveries[2]!.body).code, installed.code);
  for (const [i, d] of hook.deliveries.entries()) expectSigned(t, d, app.webhook_secret, `attempt ${i + 1}`);

  const retries = test.entries().filter((e) => e.msg === "webhook delivery failed; will retry");
  t.same(
    retries.map((e) => [e.attempt, e.failure]),
    [
      [1, "HTTP 500"],
      [2, "HTTP 500"],
    ],
    "each failure logged as a retry",
  );
  // Exponential: the n-th retry waits baseDelayMs · 2^(n-1), ±20% jitter.
  const waits = retries.map((e) => e.retryInMs as number);
  t.ok(waits[0]! >= 16 && waits[0]! <= 24, `first retry after ~20 ms (${waits[0]})`);
  t.ok(waits[1]! >= 32 && waits[1]! <= 48, `second retry after ~40 ms (${waits[1]})`);
  const gaps = [1, 2].map((i) => hook.deliveries[i]!.receivedAt - hook.deliveries[i - 1]!.receivedAt);
  t.ok(gaps[0]! >= waits[0]! - 2, `the receiver saw attempt 2 no sooner than the backoff (${gaps[0]!.toFixed(1)} ms)`);
  t.ok(gaps[1]! >= waits[1]! - 2, `the receiver saw attempt 3 no sooner than the backoff (${gaps[1]!.toFixed(1)} ms)`);
});

t.test("a receiver that keeps failing is given up on after `attempts`, with an error log free of secrets", async (t) => {
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
      const test = await buildWebhookApp(t, {}, { baseDelayMs: 10, attempts: 3 });
      const hook = await receiver(t, c.responder);
      const app = await appWithWebhook(test, hook.url);
      const installed = await install(test, app.client_id);

      const gaveUp = await until("the giving-up log line", () => test.entries().find((e) => e.msg === "webhook delivery failed; giving up"));
      t.equal(gaveUp.level, 50, "logged at error level");
      t.equal(gaveUp.attempt, 3);
      t.equal(gaveUp.failure, c.failure);
      t.equal(gaveUp.applicationId, app.id, "names the application");
      t.equal(gaveUp.deliveryId, hook.deliveries[0]!.headers["appgrant-delivery"], "names the delivery");
      await test.close();
      t.equal(hook.deliveries.length, 3, "exactly `attempts` tries");
      t.ok(
        hook.deliveries.every((d) => d.path === "/hooks/appgrant"),
        "only the registered URL was called",
      );

      for (const secret of [installed.code, app.webhook_secret, app.client_secret!]) {
        t.notOk(
          test.logs.some((line) => line.includes(secret)),
          `no log line contains ${secret.slice(0, 4)}…`,
        );
      }
      t.notOk(
        test.logs.some((line) => line.includes(hook.deliveries[0]!.headers["appgrant-signature"] as string)),
        "nor a signature",
      );
    });
  }
});

t.test("after rotating the webhook secret, deliveries verify with the new secret and not the old", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const app = await appWithWebhook(test, hook.url);
  await install(test, app.client_id, { account: "before" });
  const [before] = await deliveryCount(hook, 1);
  expectSigned(t, before!, app.webhook_secret, "before rotation");

  const rotated = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
  t.equal(rotated.statusCode, 201);
  const { webhook_secret: fresh } = rotated.json() as { webhook_secret: string };
  t.match(fresh, /^agw_[0-9A-Za-z]{49}$/);
  t.not(fresh, app.webhook_secret, "a new secret");
  t.notOk(
    test.logs.some((line) => line.includes(fresh)),
    "the new secret is not logged",
  );

  await install(test, app.client_id, { account: "after" });
  const deliveries = await deliveryCount(hook, 2);
  const after = deliveries[1]!;
  t.equal(JSON.parse(after.body).installation.account, "after");
  expectSigned(t, after, fresh, "after rotation, new secret");
  expectNotSignedWith(t, after, app.webhook_secret, "after rotation, old secret");

  t.equal(
    (await test.admin("POST", "/admin/v1/applications/unknown-application-id/webhook-secret")).statusCode,
    404,
    "rotating for an unknown application is 404",
  );
});

t.test("an attempt that outlasts timeoutMs fails as a timeout and is retried, within its deadline", async (t) => {
  const test = await buildWebhookApp(t, {}, { baseDelayMs: 10, attempts: 2, timeoutMs: 300 });
  const hook = await receiver(t, () => {}); // never answers
  const app = await appWithWebhook(test, hook.url);
  const started = performance.now();
  await install(test, app.client_id);
  const gaveUp = await until("the giving-up log line", () => test.entries().find((e) => e.msg === "webhook delivery failed; giving up"));
  const elapsed = performance.now() - started;
  t.equal(gaveUp.failure, "timeout");
  t.same(
    test
      .entries()
      .filter((e) => e.msg === "webhook delivery failed; will retry")
      .map((e) => e.failure),
    ["timeout"],
  );
  t.equal(hook.deliveries.length, 2, "both attempts reached the receiver");
  t.ok(elapsed >= 550, `two attempts of 300 ms each (${elapsed.toFixed(0)} ms)`);
  t.ok(elapsed < 5000, `bounded by the deadlines (${elapsed.toFixed(0)} ms)`);
});

t.test("an application without a webhook URL gets no delivery", async (t) => {
  const test = await buildWebhookApp(t);
  const hook = await receiver(t);
  const none = await appWithWebhook(test, null);
  const cleared = await appWithWebhook(test, hook.url);
  const patched = await test.admin("PATCH", `/admin/v1/applications/${cleared.id}`, { webhook_url: null });
  t.equal(patched.statusCode, 200);
  t.equal((patched.json() as { webhook_url: unknown }).webhook_url, null, "webhook URL removed");
  const control = await appWithWebhook(test, hook.url);

  await install(test, none.client_id);
  await install(test, cleared.client_id);
  const controlled = await install(test, control.client_id);
  await deliveryCount(hook, 1);
  await test.close(); // every delivery already started has finished or been dropped
  t.equal(hook.deliveries.length, 1, "only the application with a webhook URL got one");
  t.equal(JSON.parse(hook.deliveries[0]!.body).installation.id, controlled.id);
  const mentions = test.entries().filter((e) => /webhook/.test(e.msg) && (e.applicationId === none.id || e.applicationId === cleared.id));
  t.same(
    mentions.map((e) => e.msg),
    [],
    "no webhook activity logged for the others",
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
  t.equal(delivery!.headers["appgrant-event"], "installation.created");
  const body = JSON.parse(delivery!.body) as { action: string; code: string; installation: Record<string, unknown> };
  t.equal(body.action, "created");
  t.equal(body.code, code, "the webhook's code is the one in the redirect");
  t.equal(body.installation.account, "umbrella");
  t.equal(body.installation.client_id, app.client_id);
  t.same(body.installation.scopes, ["read"]);
  t.equal(body.installation.status, "active");
  const listed = (await test.admin("GET", `/admin/v1/installations?client_id=${app.client_id}`)).json() as { items: Record<string, unknown>[] };
  t.strictSame(body.installation, installationFields(listed.items[0]!), "the installation as the admin API shows it");
  expectSigned(t, delivery!, app.webhook_secret, "delivery");

  // Accepting again for the same account reuses the installation: nothing is created, nothing sent.
  await authorizeAndAccept("s2", "umbrella");
  await test.close();
  t.equal(hook.deliveries.length, 1, "no created event when the active installation is reused");
});
