// SSRF through webhook_url (issue 8, defect 4). A webhook delivery carries a live
// authorization code and is signed, so it must never reach an address inside the
// operator's network unless the operator opted in. Checked at registration (admin
// API and CLI), and again at delivery on the addresses DNS returned and the socket
// actually connected to, with an injected resolver (no real DNS on CI machines).
// The listeners on 127.0.0.1 count TCP connections, not requests: a refused
// delivery must not even open one.
import t, { type Test } from "tap";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { cliOnFreshDir, createArgs, databaseBytes } from "../support/cli-helper.js";

// ---------------------------------------------------------------- listeners

interface Listener {
  port: number;
  /** TCP connections accepted. */
  connections: number;
  /** HTTP requests received (paths). */
  requests: string[];
}

async function listen(t: Test, host: string, port = 0, status = 200): Promise<Listener | undefined> {
  const state: Listener = { port: 0, connections: 0, requests: [] };
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? "");
    req.resume();
    req.on("end", () => res.writeHead(status).end());
  });
  server.on("connection", () => state.connections++);
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, host, () => resolve(true));
  });
  if (!listening) return undefined;
  state.port = (server.address() as AddressInfo).port;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** Linux answers on all of 127.0.0.0/8; some systems only on 127.0.0.1 unless configured. */
const secondLoopback = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once("error", () => resolve(false));
  server.listen(0, "127.0.0.2", () => server.close(() => resolve(true)));
});
const needsSecondLoopback = { skip: secondLoopback ? false : "127.0.0.2 cannot be bound on this host" };

// ---------------------------------------------------------------- the app

type Entry = { level: number; msg: string; [key: string]: unknown };

interface SsrfApp extends TestApp {
  entries(): Entry[];
  /** Every name the injected resolver was asked for, in order. */
  lookups: string[];
}

/** A stub DNS: each name maps to the answers of its successive lookups (the last one repeats). */
type Zone = Record<string, string[][]>;

async function buildSsrfApp(t: Test, env: Record<string, string> = {}, zone: Zone = {}, extra: Record<string, unknown> = {}): Promise<SsrfApp> {
  const lookups: string[] = [];
  const asked = new Map<string, number>();
  const resolver = async (hostname: string): Promise<string[]> => {
    lookups.push(hostname);
    const answers = zone[hostname];
    if (!answers) throw Object.assign(new Error(`no such name in the test zone: ${hostname}`), { code: "ENOTFOUND" });
    const n = asked.get(hostname) ?? 0;
    asked.set(hostname, n + 1);
    return answers[Math.min(n, answers.length - 1)]!;
  };
  // Retries due at once (the clock does not move here), a short poll.
  const webhooks = { attempts: 3, baseDelayMs: 0, pollMs: 20, timeoutMs: 5000, resolver, ...extra };
  const test = await buildTestApp(t, env, { webhooks } as never);
  return { ...test, lookups, entries: () => test.logs.map((line) => JSON.parse(line) as Entry) };
}

async function until<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const REFUSED = "webhook delivery refused by the address policy; not retried";
const FINAL = new Set([REFUSED, "webhook delivered", "webhook delivery failed; giving up"]);

/** Waits until each application's delivery has ended, however it ended. */
const settled = (test: SsrfApp, count: number) =>
  until(`${count} deliveries to end`, () => test.entries().filter((e) => FINAL.has(e.msg)).length >= count);

/** A public client: no argon2 hashing, so long tables stay fast. */
function appBody(webhookUrl: string | null): Record<string, unknown> {
  return { name: "App", redirect_uris: ["https://app.example/cb"], scopes: ["read"], client_type: "public", webhook_url: webhookUrl };
}

async function register(test: TestApp, webhookUrl: string | null) {
  return test.admin("POST", "/admin/v1/applications", appBody(webhookUrl));
}

// ---------------------------------------------------------------- registration

/** Refused by default: the forms of the issue, then the rest of the policy. */
const HOSTILE: [url: string, why: string][] = [
  ["http://127.0.0.1:8080/hook", "loopback"],
  ["http://127.1/hook", "loopback, short form"],
  ["http://2130706433/hook", "loopback, one decimal number"],
  ["http://0x7f000001/hook", "loopback, hexadecimal"],
  ["http://0177.0.0.1/hook", "loopback, octal"],
  ["http://[::1]/hook", "IPv6 loopback"],
  ["http://[::ffff:127.0.0.1]/hook", "IPv4-mapped loopback"],
  ["https://[::ffff:0:127.0.0.1]/hook", "SIIT (RFC 6145) form of loopback"],
  ["https://[::127.0.0.1]/hook", "IPv4-compatible loopback"],
  ["https://[64:ff9b::127.0.0.1]/hook", "NAT64 form of loopback"],
  ["https://[2002:7f00:1::1]/hook", "6to4 form of loopback"],
  ["http://0.0.0.0/hook", "unspecified"],
  ["http://0/hook", "unspecified, short form"],
  ["https://[::]/hook", "IPv6 unspecified"],
  ["http://localhost:3000/hook", "localhost"],
  ["https://LOCALHOST./hook", "localhost, upper case with a trailing dot"],
  ["https://api.localhost/hook", "a .localhost name (RFC 6761)"],
  ["https://10.0.0.8/hook", "private 10/8"],
  ["https://172.16.4.2/hook", "private 172.16/12"],
  ["https://192.168.1.1/hook", "private 192.168/16"],
  ["https://[fd12:3456::1]/hook", "unique local fc00::/7"],
  ["https://[::ffff:10.0.0.8]/hook", "IPv4-mapped private"],
  ["https://100.64.0.1/hook", "CGNAT 100.64/10"],
  ["https://169.254.169.254/latest/meta-data/", "AWS/GCP/Azure metadata"],
  ["https://[::ffff:169.254.169.254]/latest/meta-data/", "IPv4-mapped metadata"],
  ["https://[fd00:ec2::254]/latest/meta-data/", "AWS IPv6 metadata"],
  ["https://100.100.100.200/latest/meta-data/", "Alibaba Cloud metadata"],
  ["https://metadata.google.internal/computeMetadata/v1/", "GCP metadata name"],
  ["https://metadata.google.internal./computeMetadata/v1/", "GCP metadata name with a trailing dot"],
  ["https://169.254.10.10/hook", "link-local 169.254/16"],
  ["https://[fe80::1]/hook", "IPv6 link-local"],
  ["https://224.0.0.251/hook", "multicast"],
  ["https://[ff02::1]/hook", "IPv6 multicast"],
  ["https://255.255.255.255/hook", "broadcast"],
  ["https://192.0.2.10/hook", "reserved (TEST-NET-1)"],
  ["https://240.0.0.1/hook", "reserved (class E)"],
  ["ftp://app.example/hook", "a non-http scheme"],
  ["file:///etc/passwd", "file scheme"],
  ["gopher://app.example:6379/_INFO", "gopher scheme"],
  ["https://user:pw@app.example/hook", "credentials"],
  ["https://user@app.example/hook", "a user name"],
  ["http://app.example/hook", "plain http to a public host"],
  ["http://93.184.216.34/hook", "plain http to a public address"],
];

t.test("refuses every hostile webhook_url at creation and on PATCH, with a 400 naming webhook_url, and stores nothing", async (t) => {
  const test = await buildSsrfApp(t);
  const kept = (await register(test, "https://app.example/hook")).json() as { id: string };
  for (const [url, why] of HOSTILE) {
    const created = await register(test, url);
    t.equal(created.statusCode, 400, `POST ${why}: ${url} → 400`);
    t.match(
      created.json(),
      { statusCode: 400, code: "invalid_request", error: "Bad Request", message: /^webhook_url: / },
      `POST ${why}: names webhook_url`,
    );
    const patched = await test.admin("PATCH", `/admin/v1/applications/${kept.id}`, { webhook_url: url });
    t.equal(patched.statusCode, 400, `PATCH ${why}: ${url} → 400`);
    t.match(patched.json().message, /^webhook_url: /, `PATCH ${why}: names webhook_url`);
    if (/@/.test(url)) t.notMatch(created.body, /pw@|user@/, `${why}: the credentials are not echoed`);
  }
  t.equal(await test.app.domain.db.application.count(), 1, "no application was created");
  const stored = await test.app.domain.db.application.findUniqueOrThrow({ where: { id: kept.id } });
  t.equal(stored.webhookUrl, "https://app.example/hook", "the PATCHed application kept its webhook URL");
});

t.test("accepts public https URLs, and names, which are judged at delivery", async (t) => {
  const test = await buildSsrfApp(t);
  for (const url of [
    "https://app.example/hook",
    "https://93.184.216.34/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://hooks.example.com:8443/a?b=c",
    "https://[64:ff9b::5db8:d822]/hook",
  ]) {
    t.equal((await register(test, url)).statusCode, 201, url);
  }
});

t.test("the opt-ins open internal receivers, and plain http only to them", async (t) => {
  const cases: { env: Record<string, string>; url: string; status: number }[] = [
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://127.0.0.1:8080/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://127.1/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://[::1]/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://localhost:3000/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://10.1.2.3/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "https://[fd12::1]/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://hooks.internal/hook", status: 201 },
    // Opted in to private addresses, still not to these:
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://169.254.169.254/latest/meta-data/", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://100.100.100.200/latest/meta-data/", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://[fd00:ec2::254]/latest/meta-data/", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://metadata.google.internal/computeMetadata/v1/", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://0.0.0.0/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://169.254.10.10/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://app.example.com.:80/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "http://93.184.216.34/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, url: "https://user:pw@10.1.2.3/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://10.20.3.4/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://[::ffff:10.20.3.4]/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://[fd00:1::5]/hook", status: 201 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://10.21.0.1/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://127.0.0.1/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "10.20.0.0/16, fd00:1::/32" }, url: "http://93.184.216.34/hook", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "169.254.0.0/16" }, url: "http://169.254.169.254/latest/meta-data/", status: 400 },
    { env: { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "169.254.0.0/16" }, url: "http://169.254.10.10/hook", status: 201 },
  ];
  // One app per configuration: a fresh database each is slow on PostgreSQL.
  const apps = new Map<string, SsrfApp>();
  for (const c of cases) {
    const key = JSON.stringify(c.env);
    if (!apps.has(key)) apps.set(key, await buildSsrfApp(t, c.env));
    const res = await register(apps.get(key)!, c.url);
    t.equal(res.statusCode, c.status, `${key} ${c.url} → ${c.status}`);
    if (c.status === 400) t.match(res.json().message, /^webhook_url: /, `${c.url}: names webhook_url`);
  }
});

t.test("the CLI refuses a hostile webhook URL with a message naming webhook_url, and accepts it once opted in", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const refused = await cli(...createArgs, "--webhook-url", "http://0x7f000001:8080/hook");
  t.not(refused.code, 0, "non-zero exit");
  t.match(refused.stderr, /webhook_url/, refused.stderr);
  t.notOk(databaseBytes(dbFile).includes("Deploy Bot"), "nothing created");
  const accepted = await cli.env({ APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, ...createArgs, "--webhook-url", "http://0x7f000001:8080/hook");
  t.equal(accepted.code, 0, accepted.stderr);
  t.ok(databaseBytes(dbFile).includes("Deploy Bot"), "(the check above does see a created application)");
});

// ---------------------------------------------------------------- delivery

/** Installs on an application whose webhook URL was written straight to the database (as a row from before the policy would be). */
async function storedUrlApp(test: TestApp, url: string): Promise<{ id: string; client_id: string }> {
  const created = await createApp(test, { client_type: "public" });
  await test.app.domain.db.application.update({ where: { id: created.id }, data: { webhookUrl: url } });
  return created;
}

function expectRefusedOnce(t: Test, test: SsrfApp, applicationId: string, what: string): Entry | undefined {
  const mine = test.entries().filter((e) => e.applicationId === applicationId && /webhook/.test(e.msg));
  const refused = mine.filter((e) => e.msg === REFUSED);
  t.equal(refused.length, 1, `${what}: one refusal logged`);
  t.equal(refused[0]?.level, 50, `${what}: at error level`);
  t.equal(refused[0]?.attempt, 1, `${what}: at the first attempt`);
  t.same(
    mine.filter((e) => e.msg !== REFUSED).map((e) => e.msg),
    [],
    `${what}: not retried, not delivered`,
  );
  return refused[0];
}

t.test("a stored URL in any loopback form is refused at delivery: the listener gets no connection", async (t) => {
  const v4 = (await listen(t, "127.0.0.1"))!;
  const v6 = await listen(t, "::1", v4.port); // absent on a host without IPv6
  const test = await buildSsrfApp(t);
  const forms = [
    `http://127.0.0.1:${v4.port}/hook`,
    `http://127.1:${v4.port}/hook`,
    `http://2130706433:${v4.port}/hook`,
    `http://0x7f000001:${v4.port}/hook`,
    `http://0177.0.0.1:${v4.port}/hook`,
    `http://[::ffff:127.0.0.1]:${v4.port}/hook`,
    `http://0.0.0.0:${v4.port}/hook`,
    `http://[::1]:${v4.port}/hook`,
    `http://localhost:${v4.port}/hook`,
    `https://127.0.0.1:${v4.port}/hook`,
  ];
  const apps = [];
  for (const url of forms) {
    const app = await storedUrlApp(test, url);
    apps.push({ app, url, installed: await install(test, app.client_id) });
  }
  await settled(test, forms.length);
  await test.close();
  t.equal(v4.connections, 0, "the 127.0.0.1 listener accepted no connection");
  t.equal(v6?.connections ?? 0, 0, "the ::1 listener accepted no connection");
  for (const { app, url } of apps) {
    const refused = expectRefusedOnce(t, test, app.id, url);
    t.match(refused?.reason, /loopback|unspecified/, `${url}: the reason names the address class (${refused?.reason})`);
  }
  for (const { installed } of apps)
    t.notOk(
      test.logs.some((line) => line.includes(installed.code)),
      "no log line carries the code",
    );
  t.notOk(
    test.logs.some((line) => /agw_|ags_/.test(line)),
    "no log line carries a secret",
  );
});

t.test("names that resolve to forbidden addresses are refused at delivery, before any connection", async (t) => {
  const listener = (await listen(t, "127.0.0.1"))!;
  const names: Zone = {
    "loopback.test": [["127.0.0.1"]],
    "loopback-8.test": [["127.8.9.10"]],
    "mapped.test": [["::ffff:127.0.0.1"]],
    "siit.test": [["::ffff:0:7f00:1"]],
    "compat.test": [["::7f00:1"]],
    "nat64.test": [["64:ff9b::7f00:1"]],
    "sixtofour.test": [["2002:7f00:1::1"]],
    "v6-loopback.test": [["::1"]],
    "zero.test": [["0.0.0.0"]],
    "v6-zero.test": [["::"]],
    "private.test": [["10.0.0.7"]],
    "ula.test": [["fd12:3456::1"]],
    "cgnat.test": [["100.64.1.1"]],
    "metadata.test": [["169.254.169.254"]],
    "ecs.test": [["169.254.170.2"]],
    "alibaba.test": [["100.100.100.200"]],
    "ec2-v6.test": [["fd00:ec2::254"]],
    "link-local-6.test": [["fe80::1"]],
    "multicast.test": [["224.0.0.251"]],
    "broadcast.test": [["255.255.255.255"]],
    "reserved.test": [["240.0.0.1"]],
    "all-bad.test": [["10.0.0.1", "127.0.0.1", "::1"]],
  };
  const test = await buildSsrfApp(t, {}, names);
  const apps = [];
  for (const name of Object.keys(names)) {
    const created = await createApp(test, { client_type: "public", webhook_url: `https://${name}:${listener.port}/hook` });
    await install(test, created.client_id);
    apps.push({ name, id: created.id });
  }
  await settled(test, apps.length);
  await test.close();
  t.equal(listener.connections, 0, "the 127.0.0.1 listener accepted no connection");
  for (const { name, id } of apps) {
    const refused = expectRefusedOnce(t, test, id, name);
    t.equal(refused?.host, name, `${name}: the log names the host`);
  }
  t.equal(test.lookups.length, apps.length, "one lookup per delivery");
});

t.test("DNS rebinding: each attempt connects only to the address it checked", needsSecondLoopback, async (t) => {
  // 127.0.0.2 stands for a permitted receiver (the allowlist names it), 127.0.0.1 for the
  // target inside the network. Same port on both: only the address differs.
  const target = (await listen(t, "127.0.0.1"))!;
  const permitted = (await listen(t, "127.0.0.2", target.port, 500))!;
  const zone: Zone = { "rebind.test": [["127.0.0.2"], ["127.0.0.1"]] };
  const test = await buildSsrfApp(t, { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "127.0.0.2/32" }, zone);
  const created = await createApp(test, { client_type: "public", webhook_url: `http://rebind.test:${target.port}/hook` });
  await install(test, created.client_id);
  const refused = await until("the refusal", () => test.entries().find((e) => e.msg === REFUSED));
  await test.close();

  t.equal(refused.attempt, 2, "the second attempt, after the name moved to 127.0.0.1, is refused");
  t.match(refused.reason, /127\.0\.0\.1/);
  t.same(permitted.requests, ["/hook"], "the first attempt went to the address it had checked");
  t.equal(target.connections, 0, "127.0.0.1 never got a connection");
  t.same(test.lookups, ["rebind.test", "rebind.test"], "one lookup per attempt: nothing resolves the name a second time between check and connect");
  t.same(
    test
      .entries()
      .filter((e) => /webhook/.test(e.msg))
      .map((e) => e.msg),
    ["webhook delivery failed; will retry", REFUSED],
  );
});

t.test("a name with permitted and forbidden addresses is connected to the permitted ones only", needsSecondLoopback, async (t) => {
  const target = (await listen(t, "127.0.0.1"))!;
  const permitted = (await listen(t, "127.0.0.2", target.port))!;
  const zone: Zone = { "mixed.test": [["127.0.0.1", "::1", "127.0.0.2", "169.254.169.254"]] };
  const test = await buildSsrfApp(t, { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "127.0.0.2/32" }, zone);
  const created = await createApp(test, { client_type: "public", webhook_url: `http://mixed.test:${target.port}/hook` });
  await install(test, created.client_id);
  await until("the delivery", () => test.entries().find((e) => e.msg === "webhook delivered"));
  await test.close();
  t.same(permitted.requests, ["/hook"], "delivered to 127.0.0.2");
  t.equal(target.connections, 0, "127.0.0.1 never got a connection");
});

t.test("with the opt-ins, deliveries reach internal receivers, by address and by name", async (t) => {
  const listener = (await listen(t, "127.0.0.1"))!;
  const zone: Zone = { "hooks.internal": [["127.0.0.1"]] };
  const optIns: Record<string, string>[] = [{ APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, { APPGRANT_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8" }];
  for (const env of optIns) {
    const test = await buildSsrfApp(t, env, zone);
    for (const url of [
      `http://127.0.0.1:${listener.port}/by-address`,
      `http://hooks.internal:${listener.port}/by-name`,
      `http://127.1:${listener.port}/short`,
    ]) {
      const created = await createApp(test, { client_type: "public", webhook_url: url });
      await install(test, created.client_id);
    }
    await until("three deliveries", () => test.entries().filter((e) => e.msg === "webhook delivered").length >= 3);
    await test.close();
  }
  t.same(listener.requests.sort(), ["/by-address", "/by-address", "/by-name", "/by-name", "/short", "/short"]);
});

t.test("plain http to a name that resolves to a public address is refused at delivery", async (t) => {
  const zone: Zone = { "public.test": [["93.184.216.34"]] };
  const test = await buildSsrfApp(t, { APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true" }, zone);
  const created = await createApp(test, { client_type: "public", webhook_url: "http://public.test/hook" });
  await install(test, created.client_id);
  await until("the refusal", () => test.entries().find((e) => e.msg === REFUSED));
  await test.close();
  const refused = expectRefusedOnce(t, test, created.id, "http to a public address");
  t.match(refused?.reason, /https/, `the reason says https is required (${refused?.reason})`);
});

t.test("DNS resolution has a deadline: a resolver that never answers fails the attempt, which is retried", async (t) => {
  const hanging = () => new Promise<string[]>(() => {});
  const test = await buildSsrfApp(t, {}, {}, { resolver: hanging, dnsTimeoutMs: 200, attempts: 2 });
  const created = await createApp(test, { client_type: "public", webhook_url: "https://slow-dns.test/hook" });
  const started = performance.now();
  await install(test, created.client_id);
  const gaveUp = await until("giving up", () => test.entries().find((e) => e.msg === "webhook delivery failed; giving up"), 10_000);
  const elapsed = performance.now() - started;
  t.equal(gaveUp.failure, "DNS timeout");
  t.equal(gaveUp.attempt, 2, "a DNS failure is transient: retried");
  t.ok(elapsed < 5000, `both attempts ended by their DNS deadline (${elapsed.toFixed(0)} ms)`);
  await test.close();
});
