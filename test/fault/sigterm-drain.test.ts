// SIGTERM under load (issue 8, defect 8): no request the server read is dropped; each
// gets its answer, or a 503 in the endpoint's error shape with `Connection: close`;
// keep-alive connections are never reset under a client; the process exits within
// APPGRANT_SHUTDOWN_GRACE (0 when clean), and past it cuts what is left and exits 1.
//
// A real server process (test/support/multi-process-helper.ts) on a fresh database (SQLite, or
// a PostgreSQL schema with TEST_DATABASE_URL). Sixteen keep-alive clients introspect
// in a loop; a seventeenth request is held in flight across the signal by sending its
// body only afterwards. "Read by the server" is counted on the server's side: every
// `incoming request` log line of the load's path must match one answer a client got.
import http from "node:http";
import { randomBytes } from "node:crypto";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { http as request, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";
import { keepAliveAgent, type Outcome, send } from "./raw-http.js";

const CLIENTS = 16;
const LOAD_PATH = "/oauth/introspect";
const SLOW_PATH = "/oauth/introspect?probe=held-across-the-signal";

async function waitFor(what: string, deadlineMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startWithLog(t: Test, graceSeconds: number): Promise<{ server: ServerProcess; lines: string[]; accessToken: string }> {
  const databaseUrl = await freshDatabase(t);
  const server = await startServer({
    name: "drain",
    env: {
      DATABASE_URL: databaseUrl,
      APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
      APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
      APPGRANT_SHUTDOWN_GRACE: String(graceSeconds),
      APPGRANT_RATE_LIMIT_PER_IP: "0",
      APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
      LOG_LEVEL: "info",
    },
  });
  t.teardown(() => stopServer(server, 1_000));
  // Every line, not the helper's last 200: the count of requests read needs them all.
  const lines: string[] = [];
  let partial = "";
  server.child.stdout!.on("data", (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const parts = text.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
  });
  t.teardown(() => {
    if (t.passing() === false) t.comment(`--- last log lines ---\n${server.log.slice(-30).join("\n")}`);
  });

  const admin = (method: string, path: string, json: unknown) => request(server, method, `/admin/v1${path}`, { bearer: ADMIN_TOKEN, json });
  const app = await admin("POST", "/applications", { name: "Drain", redirect_uris: ["https://app.example/cb"], scopes: ["read"] });
  const installation = await admin("POST", "/installations", { client_id: app.body.client_id, account: "acme" });
  const tokens = await request(server, "POST", "/oauth/token", {
    form: {
      grant_type: "authorization_code",
      code: String(installation.body.code),
      client_id: String(app.body.client_id),
      client_secret: String(app.body.client_secret),
    },
  });
  if (tokens.status !== 200) throw new Error(`setup: token exchange answered ${tokens.status}`);
  return { server, lines, accessToken: String(tokens.body.access_token) };
}

type Exit = { code: number | null; signal: NodeJS.Signals | null } | "still running";

/** The process's exit, or "still running" after withinMs (bounded: the test must not hang on a server that never exits). */
function exited(server: ServerProcess, withinMs: number): Promise<Exit> {
  if (server.exited) return Promise.resolve(server.exited);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("still running"), withinMs);
    // "close", not "exit": the log lines still in the pipe are read by then.
    server.child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

const port = (server: ServerProcess) => Number(new URL(server.base).port);

t.test("SIGTERM under load: every request read is answered, keep-alive clients get 503 + Connection: close, exit 0", async (t) => {
  const GRACE = 6;
  const { server, lines, accessToken } = await startWithLog(t, GRACE);
  const body = new URLSearchParams({ token: accessToken }).toString();
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" };
  const outcomes: Outcome[] = [];
  const hardStop = Date.now() + 30_000;
  let clientsDone = 0;
  const clients = Array.from({ length: CLIENTS }, async () => {
    const agent = keepAliveAgent();
    try {
      for (;;) {
        const outcome = await send({ port: port(server), path: LOAD_PATH, headers, body, agent, timeoutMs: 10_000 });
        outcomes.push(outcome);
        // The server has stopped listening: this client is done.
        if (outcome.kind === "error" && !outcome.reusedSocket) return;
        if (Date.now() > hardStop) return;
      }
    } finally {
      agent.destroy();
      clientsDone++;
    }
  });

  await waitFor("200 answers under load", 20_000, () => outcomes.filter((o) => o.kind === "response" && o.status === 200).length >= 200);

  // A request in flight across the signal: headers now, the body after the signal.
  let slowRest: () => void = () => undefined;
  const slow = new Promise<Outcome>((resolve) => {
    const req = http.request({
      host: "127.0.0.1",
      port: port(server),
      method: "POST",
      path: SLOW_PATH,
      agent: false,
      headers: { ...headers, "content-length": String(body.length) },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk));
      res.on("end", () =>
        resolve({
          kind: "response",
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text,
          reusedSocket: false,
          sentAt: 0,
          receivedAt: Date.now(),
        }),
      );
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ kind: "error", code: error.code ?? error.message, reusedSocket: false, sentAt: 0 }));
    req.write(body.slice(0, 10));
    slowRest = () => req.end(body.slice(10));
  });
  await waitFor("the server to read the held request", 10_000, () => lines.some((line) => line.includes("held-across-the-signal")));

  const signalledAt = Date.now();
  const exit = exited(server, GRACE * 1000 + 10_000);
  server.child.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 300));
  slowRest();
  const status = await exit;
  const exitMs = Date.now() - signalledAt;
  await Promise.race([Promise.all(clients), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  t.equal(clientsDone, CLIENTS, "every client stopped");

  t.same(status, { code: 0, signal: null }, "a clean drain exits 0");
  t.ok(exitMs < GRACE * 1000, `exited within the grace period (${exitMs} ms < ${GRACE} s)`);

  const held = await slow;
  t.equal(held.kind === "response" && held.status, 200, "the request in flight at the signal got its real answer");
  t.match(held.kind === "response" ? JSON.parse(held.body) : {}, { active: true });
  t.equal(held.kind === "response" && held.headers.connection, "close", "…with Connection: close");

  const responses = outcomes.filter((o): o is Extract<Outcome, { kind: "response" }> => o.kind === "response");
  const errors = outcomes.filter((o): o is Extract<Outcome, { kind: "error" }> => o.kind === "error");
  const unavailable = responses.filter((o) => o.status === 503);
  t.comment(
    `${responses.length} answers (${unavailable.length} × 503, ${responses.length - unavailable.length} × 200), ` +
      `${errors.length} connection errors (${[...new Set(errors.map((e) => e.code))].join(", ") || "none"}), exit after ${exitMs} ms`,
  );
  t.ok(unavailable.length > 0, "requests arriving during the drain were answered 503");
  t.same([...new Set(responses.map((o) => o.status))].sort(), unavailable.length === responses.length ? [503] : [200, 503], "only 200 and 503");
  for (const o of unavailable) {
    if (o.headers.connection !== "close") t.fail(`a 503 without Connection: close: ${JSON.stringify(o.headers)}`);
    const json = JSON.parse(o.body) as Record<string, unknown>;
    if (json.error !== "temporarily_unavailable" || typeof json.error_description !== "string" || Object.keys(json).length !== 2) {
      t.fail(`a 503 not in the OAuth error shape: ${o.body}`);
    }
    if (o.headers["cache-control"] !== "no-store") t.fail("a 503 without Cache-Control: no-store");
  }
  // A request sent just after kill() may still get a 200 (the signal reaches the server's event loop a moment
  // later), but none sent after a 503 came back: the drain had begun by then.
  const firstRefusal = Math.min(...unavailable.map((o) => o.receivedAt));
  t.same(
    responses.filter((o) => o.status === 200 && o.sentAt > firstRefusal),
    [],
    "once draining, no request is served normally again",
  );

  // A keep-alive connection is never reset under a client; a brand-new connection may be
  // refused, or reset by the kernel when it was still in the listen backlog (never read).
  t.same(
    errors.filter((e) => e.reusedSocket),
    [],
    "no error on a reused keep-alive connection",
  );
  t.same(
    errors.filter((e) => !["ECONNREFUSED", "ECONNRESET", "EPIPE"].includes(e.code)),
    [],
    "new connections are only refused or reset",
  );

  const read = lines.filter((line) => line.includes('"msg":"incoming request"') && line.includes(`"url":"${LOAD_PATH}"`)).length;
  t.equal(read, responses.length, `every request the server read (${read}) was answered`);
});

t.test("past the grace period, open connections are cut and the process exits 1", async (t) => {
  const GRACE = 2;
  const { server, lines, accessToken } = await startWithLog(t, GRACE);
  const body = new URLSearchParams({ token: accessToken }).toString();
  // Headers and a part of the body, and never the rest: this request cannot finish.
  const stuck = new Promise<string>((resolve) => {
    const req = http.request({
      host: "127.0.0.1",
      port: port(server),
      method: "POST",
      path: SLOW_PATH,
      agent: false,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded", "content-length": String(body.length) },
    });
    req.on("response", (res) => resolve(`answered ${res.statusCode}`));
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.write(body.slice(0, 10));
  });
  await waitFor("the server to read the stuck request", 10_000, () => lines.some((line) => line.includes("held-across-the-signal")));
  const signalledAt = Date.now();
  const exit = exited(server, GRACE * 1000 + 10_000);
  server.child.kill("SIGTERM");
  const status = await exit;
  const exitMs = Date.now() - signalledAt;
  t.same(status, { code: 1, signal: null }, "exit status 1: connections had to be cut");
  t.ok(exitMs >= GRACE * 1000 - 100, `waited for the grace period (${exitMs} ms)`);
  t.ok(exitMs < GRACE * 1000 + 2_500, `and not much longer (${exitMs} ms)`);
  t.equal(await stuck, "ECONNRESET", "the stuck request's connection was cut");
  t.ok(
    lines.some((line) => line.includes("shutdown grace period expired") && line.includes('"connectionsCut":1')),
    "the log says the grace period expired and how many connections were cut",
  );
});
