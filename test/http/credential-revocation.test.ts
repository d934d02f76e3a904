// POST /oauth/credentials/revoke: anyone holding a leaked appgrant credential may kill it,
// without authenticating. The same effect and event as a secret scanning report; an answer
// (202, empty) that says nothing about which values were valid; a per-IP limit that holds
// across processes with Redis.
import { randomBytes } from "node:crypto";
import pg from "pg";
import t from "tap";
import { generateCredential, sha256 } from "../../src/crypto/tokens.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { expectError, formBody, isActive, newClient, refresh, tokenRequest, tokenRow } from "../support/oauth-helper.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { authenticates, buildCorpus, snapshot } from "../support/leaks.js";

function revoke(test: TestApp, body: unknown, remoteAddress = "192.0.2.10", contentType = "application/json") {
  return test.app.inject({
    method: "POST",
    url: "/oauth/credentials/revoke",
    remoteAddress,
    headers: { "content-type": contentType },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const leakedEvents = (test: TestApp) => test.app.domain.db.event.findMany({ where: { type: "credential.leaked" }, orderBy: { id: "asc" } });

t.test("revokes what it is given, as a secret scanning report would, and answers 202 whatever was valid", async (t) => {
  const test = await buildTestApp(t);
  const corpus = await buildCorpus(test, { appCount: 2, pairsPerApp: 3, tokensPerApp: 1, codesPerApp: 1 });
  const [app] = corpus.apps;
  const [refreshed, accessed, untouched] = corpus.pairs as [(typeof corpus.pairs)[0], (typeof corpus.pairs)[0], (typeof corpus.pairs)[0]];
  const before = await snapshot(test);

  const res = await revoke(test, {
    credentials: [
      refreshed.refresh,
      accessed.access,
      corpus.installationTokens[0],
      corpus.codes[0]!.code,
      app!.client_secret,
      app!.webhook_secret,
      "garbage",
    ],
  });
  t.equal(res.statusCode, 202, res.body);
  t.equal(res.body, "", "no body");
  t.equal(res.headers["cache-control"], "no-store");
  const garbage = await revoke(test, { credentials: [generateCredential("refreshToken"), "nothing"] });
  t.same([garbage.statusCode, garbage.body], [202, ""], "values that match nothing get the same answer");

  t.equal((await refresh(test, app!, refreshed.refresh)).statusCode, 400, "the refresh token no longer refreshes");
  t.notOk(await isActive(test, refreshed.access), "its pair is inactive");
  t.notOk(await isActive(test, accessed.access), "the access token is inactive");
  t.notOk(await isActive(test, corpus.installationTokens[0]!), "the installation token is inactive");
  const exchanged = await tokenRequest(test, { grant_type: "authorization_code", code: corpus.codes[0]!.code }, { client: app! });
  t.equal(exchanged.statusCode, 400, "the code cannot be exchanged");
  t.ok(await isActive(test, untouched.access), "a token not given is active");
  t.ok(await authenticates(test, app!), "the client secret is kept (notify, the default)…");
  t.ok((await test.app.domain.db.clientSecret.findFirstOrThrow({ where: { applicationId: app!.id } })).compromisedAt, "…and marked compromised");
  const secrets = (await test.admin("GET", `/admin/v1/applications/${app!.id}/secrets`)).json() as { items: { compromised_at: string | null }[] };
  t.equal(secrets.items[0]!.compromised_at, test.clock().toISOString(), "the admin API shows when the secret was reported");
  const shown = (await test.admin("GET", `/admin/v1/applications/${app!.id}`)).json() as { webhook_secret_compromised_at: string | null };
  t.equal(shown.webhook_secret_compromised_at, test.clock().toISOString(), "and when the webhook secret was");
  const rotated = await test.admin("POST", `/admin/v1/applications/${app!.id}/webhook-secret`);
  t.equal(rotated.statusCode, 201, rotated.body);
  const rotatedView = (await test.admin("GET", `/admin/v1/applications/${app!.id}`)).json() as { webhook_secret_compromised_at: string | null };
  t.equal(rotatedView.webhook_secret_compromised_at, null, "rotating the webhook secret clears the mark");

  const events = await leakedEvents(test);
  t.same(
    events.map((event) => (JSON.parse(event.data) as { credential_type: string }).credential_type).sort(),
    ["access_token", "authorization_code", "client_secret", "installation_token", "refresh_token", "webhook_secret"],
    "one credential.leaked per credential",
  );
  for (const event of events) {
    t.match(JSON.parse(event.data), { reporter: "public_revocation", url: null, source: null });
    t.equal(event.actorType, "system");
    t.equal(event.sourceIp, "192.0.2.10", "the caller's address is recorded");
  }
  t.equal(await test.app.domain.db.webhookDelivery.count({ where: { type: "credential.leaked" } }), events.length, "and its webhook");
  const after = await snapshot(test);
  t.same(
    [...after.apps.keys()].filter((id) => after.apps.get(id) !== before.apps.get(id)),
    [app!.id],
    "only the reported application changed (its webhook secret marked)",
  );
  const text = JSON.stringify(events) + test.logs.join("\n");
  for (const value of [refreshed.refresh, accessed.access, app!.client_secret, app!.webhook_secret])
    t.notOk(text.includes(value), "no credential in events or logs");
});

t.test("APPGRANT_LEAKED_SECRET_ACTION=revoke: a client secret given is deleted", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_LEAKED_SECRET_ACTION: "revoke" });
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 0, tokensPerApp: 0, codesPerApp: 0 });
  t.equal((await revoke(test, { credentials: [corpus.apps[0]!.client_secret] })).statusCode, 202);
  t.notOk(await authenticates(test, corpus.apps[0]!), "it no longer authenticates");
  t.equal(await test.app.domain.db.clientSecret.count(), 0);
  t.match(JSON.parse((await leakedEvents(test))[0]!.data), { credential_type: "client_secret", action: "deleted" });
});

t.test("malformed requests: 400 invalid_request, nothing changed", async (t) => {
  const test = await buildTestApp(t);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 1, tokensPerApp: 0, codesPerApp: 0 });
  const live = corpus.pairs[0]!.access;
  const before = await snapshot(test);
  const cases: [string, unknown][] = [
    ["an array", [live]],
    ["no credentials", {}],
    ["credentials not a list", { credentials: live }],
    ["an empty list", { credentials: [] }],
    ["1,001 values", { credentials: Array(1001).fill(live) }],
    ["a number", { credentials: [live, 7] }],
    ["an empty string", { credentials: [live, ""] }],
    ["a NUL", { credentials: [live, "aga_\u0000"] }],
    ["an unpaired surrogate", '{"credentials": ["aga_\\ud800"]}'],
    ["too long", { credentials: [live, "x".repeat(201)] }],
    ["not JSON", "{"],
  ];
  for (const [name, body] of cases) {
    const res = await revoke(test, body);
    expectError(t, test, res, "invalid_request", 400, [live]);
    t.comment(name);
  }
  t.same(await snapshot(test), before, "nothing changed");
  t.ok(await isActive(test, live));
  const get = await test.app.inject({ method: "GET", url: "/oauth/credentials/revoke" });
  t.equal(get.statusCode, 405);
  t.equal(get.headers.allow, "POST");
});

t.test("limited per IP address (default 60 per hour), before the body is read", async (t) => {
  const test = await buildTestApp(t);
  const codes: number[] = [];
  for (let i = 0; i < 61; i++) codes.push((await revoke(test, { credentials: ["x"] })).statusCode);
  t.same(codes.slice(0, 60), Array(60).fill(202), "60 requests pass");
  const refused = await revoke(test, "not even JSON");
  expectError(t, test, refused, "temporarily_unavailable", 429);
  t.equal(refused.headers["retry-after"], "3600");
  t.equal((await revoke(test, { credentials: ["x"] }, "198.51.100.7")).statusCode, 202, "another address is not limited");
  test.clock.advance(3600);
  t.equal((await revoke(test, { credentials: ["x"] })).statusCode, 202, "the next window opens");
});

t.test("APPGRANT_CREDENTIAL_REVOKE_LIMIT: with REDIS_URL, one limit across processes", async (t) => {
  const env = {
    REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    APPGRANT_REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:`,
    APPGRANT_CREDENTIAL_REVOKE_LIMIT: "3",
  };
  const first = await buildTestApp(t, env);
  const second = await buildTestApp(t, env);
  const codes: number[] = [];
  for (const test of [first, second, first, second, first]) codes.push((await revoke(test, { credentials: [sha256("x")] })).statusCode);
  t.same(codes, [202, 202, 202, 429, 429]);
});

t.test("a device code: revoked even once accepted, so the client's next poll gets expired_token and no token", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device" });
  const client = await newClient(test, { client_type: "public", grant_types: [DEVICE_CODE_GRANT, "refresh_token"], scopes: ["read"] });
  const started = await test.app.inject({
    method: "POST",
    url: "/oauth/device_authorization",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: formBody({ client_id: client.client_id }),
  });
  t.equal(started.statusCode, 200, started.body);
  const { device_code: deviceCode, user_code: userCode } = started.json() as { device_code: string; user_code: string };
  t.equal((await test.admin("POST", `/admin/v1/device-authorizations/${userCode}/accept`, { account: "acme" })).statusCode, 200);
  t.equal((await revoke(test, { credentials: [deviceCode] })).statusCode, 202);
  const polled = await tokenRequest(test, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }, { client });
  expectError(t, test, polled, "expired_token", 400, [deviceCode]);
  t.equal(await test.app.domain.db.token.count(), 0, "no token was issued");
  t.match(JSON.parse((await leakedEvents(test))[0]!.data), { credential_type: "device_code", action: "revoked" });
});

t.test(
  "PostgreSQL: a refresh committing while the report revokes its family leaves no live member, and its answer is inactive",
  { skip: process.env.TEST_DATABASE_URL ? false : "PostgreSQL only (SQLite runs one writer at a time)" },
  async (t) => {
    const test = await buildTestApp(t);
    const database = test.config.database;
    if (database.kind !== "postgres") throw new Error("expected PostgreSQL");
    const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 2, tokensPerApp: 0, codesPerApp: 0 });
    const app = corpus.apps[0]!;
    // Deterministically, the interleaving the race can produce: the rotation's one statement has
    // updated the parent and inserted its successor, uncommitted, when the report's UPDATE of the
    // family starts (so that UPDATE's snapshot cannot see the successor) and waits on the parent's
    // row lock. A lock on the application row holds the rotation there: its INSERT's foreign-key
    // check (FOR KEY SHARE, at the end of the statement) waits for this transaction.
    const connect = async () => {
      const client = new pg.Client({ connectionString: database.connectionString });
      await client.connect();
      t.teardown(() => client.end());
      await client.query(`SET search_path TO "${database.schema}"`);
      return client;
    };
    const locker = await connect();
    // Watched from another connection: inside the locker's transaction, pg_stat_activity would stay as first read.
    const observer = await connect();
    const me = (await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    /** The backend that waits on `pid`'s locks, once one does. */
    const waitingOn = async (pid: number): Promise<number> => {
      for (let i = 0; i < 10_000; i++) {
        const { rows } = await observer.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", [pid]);
        if (rows[0] !== undefined) return rows[0].pid;
        await new Promise((resolve) => setImmediate(resolve));
      }
      throw new Error(`nothing waited on backend ${pid}`);
    };

    for (const pair of corpus.pairs) {
      const family = (await tokenRow(test, pair.refresh)).familyId;
      await locker.query("BEGIN");
      await locker.query(`SELECT 1 FROM "Application" WHERE "id" = $1 FOR UPDATE`, [app.id]);
      const refreshed = refresh(test, app, pair.refresh);
      const rotation = await waitingOn(me);
      const reported = revoke(test, { credentials: [pair.refresh] });
      await waitingOn(rotation);
      await locker.query("COMMIT");
      const [res, report] = await Promise.all([refreshed, reported]);
      t.equal(report.statusCode, 202, report.body);
      t.equal(res.statusCode, 200, "the refresh committed first: it had locked the parent");
      const rows = await test.app.domain.db.token.findMany({ where: { familyId: family } });
      t.same(
        rows.filter((row) => row.revokedAt === null).map((row) => row.id),
        [],
        "no member of the reported family is live, the successor committed meanwhile included",
      );
      const issued = res.json() as { access_token: string; refresh_token: string };
      t.notOk(await isActive(test, issued.access_token), "the access token the refresh answered is inactive");
      t.notOk(await isActive(test, issued.refresh_token), "and so is its refresh token");
      t.equal((await refresh(test, app, issued.refresh_token)).statusCode, 400, "which refreshes no more");
      const event = (await leakedEvents(test)).find((row) => (JSON.parse(row.data) as { family_id: string }).family_id === family);
      t.match(JSON.parse(event!.data), { action: "revoked", tokens_revoked: rows.length }, "the event counts every member it revoked");
    }
  },
);
