// The webhook SSRF policy on its own: how each address is classed under each opt-in,
// how its configuration is read, and the transport's last check on the socket's peer.
// The end-to-end cases (admin API, CLI, deliveries, DNS rebinding) are in test/fault/ssrf.test.ts.
import t from "tap";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { ConfigError, loadConfig } from "../../src/main/config.js";
import { AddressRefused, WebhookAddressPolicy } from "../../src/shared/webhook-address-policy.js";
import { postWebhook } from "../../src/webhooks/transport.js";

const closed = new WebhookAddressPolicy({ allowPrivate: false, allowedCidrs: [] });
const privateOpen = new WebhookAddressPolicy({ allowPrivate: true, allowedCidrs: [] });
const listed = new WebhookAddressPolicy({ allowPrivate: false, allowedCidrs: ["10.20.0.0/16", "fd00:1::/32", "169.254.0.0/16", "127.0.0.2/32"] });

// [address, default https, ALLOW_PRIVATE https, ALLOW_PRIVATE http, CIDR list http]: true = allowed.
const TABLE: [string, boolean, boolean, boolean, boolean][] = [
  ["93.184.216.34", true, true, false, false],
  ["2606:4700:4700::1111", true, true, false, false],
  ["64:ff9b::5db8:d822", true, true, false, false], // NAT64 of a public address
  ["2002:5db8:d822::1", true, true, false, false], // 6to4 of a public address
  ["127.0.0.1", false, true, true, false],
  ["127.0.0.2", false, true, true, true],
  ["127.255.255.254", false, true, true, false],
  ["::1", false, true, true, false],
  ["::ffff:127.0.0.1", false, true, true, false],
  ["::ffff:0:7f00:1", false, true, true, false],
  ["64:ff9b::7f00:1", false, true, true, false],
  ["2002:7f00:1::1", false, true, true, false],
  ["::7f00:1", false, false, false, false], // IPv4-compatible: reserved ::/8
  ["10.0.0.1", false, true, true, false],
  ["10.20.3.4", false, true, true, true],
  ["::ffff:10.20.3.4", false, true, true, true],
  ["172.31.255.255", false, true, true, false],
  ["192.168.0.1", false, true, true, false],
  ["100.64.0.1", false, true, true, false],
  ["fd12::1", false, true, true, false],
  ["fd00:1::9", false, true, true, true],
  ["169.254.10.10", false, false, false, true],
  ["fe80::1", false, false, false, false],
  ["169.254.169.254", false, false, false, false],
  ["::ffff:169.254.169.254", false, false, false, false],
  ["64:ff9b::a9fe:a9fe", false, false, false, false],
  ["169.254.170.2", false, false, false, false],
  ["100.100.100.200", false, false, false, false],
  ["fd00:ec2::254", false, false, false, false],
  ["168.63.129.16", false, false, false, false],
  ["0.0.0.0", false, false, false, false],
  ["0.1.2.3", false, false, false, false],
  ["::", false, false, false, false],
  ["224.0.0.1", false, false, false, false],
  ["ff02::1", false, false, false, false],
  ["255.255.255.255", false, false, false, false],
  ["192.0.2.1", false, false, false, false],
  ["198.18.0.1", false, false, false, false],
  ["240.0.0.1", false, false, false, false],
  ["2001:db8::1", false, false, false, false],
  ["2001::1", false, false, false, false], // Teredo
  ["fec0::1", false, false, false, false],
];

t.test("classes every address the same way under each opt-in", async (t) => {
  for (const [address, https, privateHttps, privateHttp, listedHttp] of TABLE) {
    t.equal(closed.checkAddress(address, "https:") === undefined, https, `${address}, default, https`);
    t.equal(closed.checkAddress(address, "http:") === undefined, false, `${address}, default, http: never`);
    t.equal(privateOpen.checkAddress(address, "https:") === undefined, privateHttps, `${address}, ALLOW_PRIVATE, https`);
    t.equal(privateOpen.checkAddress(address, "http:") === undefined, privateHttp, `${address}, ALLOW_PRIVATE, http`);
    t.equal(listed.checkAddress(address, "http:") === undefined, listedHttp, `${address}, ALLOWED_CIDRS, http`);
  }
  t.match(
    closed.checkAddress("::ffff:127.0.0.1", "https:"),
    /IPv4-mapped form of loopback address 127\.0\.0\.1/,
    "the reason sees through the mapping",
  );
  t.match(closed.checkAddress("10.0.0.1", "https:"), /APPGRANT_WEBHOOK_ALLOW_PRIVATE/, "the reason names the opt-in");
  t.match(privateOpen.checkAddress("169.254.169.254", "https:"), /metadata.*never/);
  t.ok(closed.checkAddress("not-an-address", "https:"), "a non-address is refused");
});

t.test("judges URLs without DNS: scheme, credentials, literals in every spelling, localhost, metadata names", async (t) => {
  const refused = [
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://127。0。0。1/",
    "https://[0:0:0:0:0:ffff:7f00:1]/",
    "https://localhost/",
    "https://a.b.localhost./",
    "https://METADATA.google.internal/",
    "https://metadata/",
    "https://instance-data/",
    "ftp://app.example/",
    "javascript:alert(1)",
    "https://u:p@app.example/",
    "http://app.example/",
    "not a url",
    "//app.example/hook",
  ];
  for (const url of refused) t.ok(closed.checkUrl(url), `refused: ${url} (${closed.checkUrl(url)})`);
  for (const url of ["https://app.example/", "https://127.0.0.1.nip.io/", "https://hooks.internal/"]) {
    t.equal(closed.checkUrl(url), undefined, `a name is left to delivery: ${url}`);
  }
  t.equal(privateOpen.checkUrl("http://localhost:8080/"), undefined, "localhost with ALLOW_PRIVATE");
  t.equal(privateOpen.checkUrl("http://hooks.internal/"), undefined, "http to a name once an opt-in exists");
  t.ok(privateOpen.checkUrl("http://metadata.google.internal/"), "metadata names stay refused");
  t.ok(listed.checkUrl("http://localhost/"), "localhost is not in the listed CIDRs");
});

t.test("reads APPGRANT_WEBHOOK_ALLOW_PRIVATE and APPGRANT_WEBHOOK_ALLOWED_CIDRS, refusing bad values by name", async (t) => {
  t.same(loadConfig({}, "/srv").webhookPolicy, { allowPrivate: false, allowedCidrs: [] }, "closed by default");
  t.same(loadConfig({ APPGRANT_WEBHOOK_ALLOW_PRIVATE: "TRUE" }, "/srv").webhookPolicy.allowPrivate, true);
  t.same(
    loadConfig({ APPGRANT_WEBHOOK_ALLOWED_CIDRS: " 10.20.0.0/16 ,fd00:0001::/32,, " }, "/srv").webhookPolicy.allowedCidrs,
    ["10.20.0.0/16", "fd00:1::/32"],
    "trimmed, empty entries dropped, normalised",
  );
  const bad: [string, string][] = [
    ["APPGRANT_WEBHOOK_ALLOW_PRIVATE", "yes"],
    ["APPGRANT_WEBHOOK_ALLOWED_CIDRS", "10.0.0.1"],
    ["APPGRANT_WEBHOOK_ALLOWED_CIDRS", "10/8"],
    ["APPGRANT_WEBHOOK_ALLOWED_CIDRS", "10.0.0.0/33"],
    ["APPGRANT_WEBHOOK_ALLOWED_CIDRS", "fd00::/129"],
    ["APPGRANT_WEBHOOK_ALLOWED_CIDRS", "10.0.0.0/8,internal"],
  ];
  for (const [variable, value] of bad) {
    const error = (() => {
      try {
        loadConfig({ [variable]: value }, "/srv");
      } catch (e) {
        return e;
      }
    })();
    t.ok(error instanceof ConfigError && error.variable === variable, `${variable}=${value}: ${String(error)}`);
  }
});

t.test("the transport checks the socket's peer before writing anything", async (t) => {
  const sockets: Socket[] = [];
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    res.writeHead(200).end();
  });
  server.on("connection", (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;

  // A policy that lets the URL and the lookup through but not the peer: only the connect-time check can stop it.
  const peerChecks: string[] = [];
  const policy = {
    hasOptIn: true,
    checkUrl: () => undefined,
    checkAddress: (address: string) => {
      peerChecks.push(address);
      return "refused at connect";
    },
  } as unknown as WebhookAddressPolicy;
  const error = await postWebhook(`http://127.0.0.1:${port}/hook`, {
    headers: {},
    body: "{}",
    policy,
    resolver: async () => ["127.0.0.1"],
    dnsTimeoutMs: 1000,
    signal: AbortSignal.timeout(5000),
  }).catch((e: unknown) => e);
  t.ok(error instanceof AddressRefused, "refused");
  t.same(peerChecks, ["127.0.0.1"], "the peer address was checked");
  t.equal(sockets.length, 1, "(the TCP connection itself was made: the check needs the peer)");
  // Whatever the client wrote before closing has been read once the server side sees the close.
  if (!sockets[0]!.closed) await new Promise((resolve) => sockets[0]!.once("close", resolve));
  t.same(requests, [], "the receiver got no request");

  const allowed = await postWebhook(`http://127.0.0.1:${port}/hook`, {
    headers: {},
    body: "{}",
    policy: new WebhookAddressPolicy({ allowPrivate: true, allowedCidrs: [] }),
    resolver: async () => [],
    dnsTimeoutMs: 1000,
    signal: AbortSignal.timeout(5000),
  });
  t.equal(allowed.status, 200, "and with the policy's consent, the same request goes through");
  t.same(requests, ["/hook"]);
});
