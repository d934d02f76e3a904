// POST /secret-scanning/github: GitHub's secret scanning partner program. Signed reports
// (keys from a key server or a file, rotated), refusals that change nothing, and a
// batch of 1,000 mixed entries whose labels, revocations, secrets and events are exact.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { generateCredential, sha256 } from "../../src/crypto/tokens.js";
import { newId } from "../../src/shared/ids.js";
import { decrypt } from "../../src/crypto/encryption.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../src/domain/applications.js";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { isActive, refresh, tokenRequest } from "../support/oauth-helper.js";
import {
  authenticates,
  buildCorpus,
  keyDocument,
  keyServer,
  type ReportEntry,
  report,
  type ScannerKey,
  scannerKey,
  snapshot,
} from "../support/leaks.js";

async function withKeyServer(t: Test, keys: ScannerKey[], env: Record<string, string> = {}) {
  const server = await keyServer();
  server.document = keyDocument(keys);
  t.teardown(() => server.close());
  const test = await buildTestApp(t, { APPGRANT_SECRET_SCANNING_KEYS_URL: server.url, ...env });
  return { test, server };
}

function keyFile(t: Test, keys: ScannerKey[]): string {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-scanner-keys-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "keys.json");
  writeFileSync(path, keyDocument(keys));
  return path;
}

const leakedEvents = (test: TestApp) => test.app.domain.db.event.findMany({ where: { type: "credential.leaked" }, orderBy: { id: "asc" } });

t.test("off unless a key source is configured: 404, as an unknown path", async (t) => {
  const test = await buildTestApp(t);
  const key = scannerKey("k1");
  const res = await report(test, [{ token: generateCredential("accessToken"), type: "appgrant_access_token" }], key);
  t.equal(res.statusCode, 404);
  t.equal((res.json() as { code: string }).code, "not_found");
});

t.test("a signed report from the key server: the token is revoked and labelled; url and source are recorded", async (t) => {
  const key = scannerKey("k1");
  const { test, server } = await withKeyServer(t, [key]);
  const [corpus] = [await buildCorpus(test, { appCount: 1, pairsPerApp: 2, tokensPerApp: 0, codesPerApp: 0 })];
  const leaked = corpus.pairs[0]!;
  const garbage = "aga_not-a-token";
  const res = await report(
    test,
    [
      { token: leaked.access, type: "appgrant_access_token", url: "https://github.com/o/r/blob/main/.env", source: "content" },
      { token: garbage, type: "appgrant_access_token", url: "https://github.com/o/r", source: "commit" },
    ],
    key,
  );
  t.equal(res.statusCode, 200, res.body);
  t.same(res.json(), [
    { token_hash: sha256(leaked.access), token_type: "appgrant_access_token", label: "true_positive" },
    { token_hash: sha256(garbage), token_type: "appgrant_access_token", label: "false_positive" },
  ]);
  t.equal(server.requests, 1, "the key document was fetched once");
  t.notOk(await isActive(test, leaked.access), "the leaked access token introspects inactive");
  t.ok(await isActive(test, corpus.pairs[1]!.access), "another token is untouched");
  const [event, ...others] = await leakedEvents(test);
  t.equal(others.length, 0, "one event");
  t.same(JSON.parse(event!.data), {
    credential_type: "access_token",
    reporter: "secret_scanning",
    url: "https://github.com/o/r/blob/main/.env",
    source: "content",
    action: "revoked",
    token_id: (await test.app.domain.db.token.findFirstOrThrow({ where: { accessTokenHash: sha256(leaked.access) } })).id,
  });
  t.equal(event!.actorType, "system");
  t.notOk(test.logs.join("\n").includes(leaked.access), "the token is not logged");

  const again = await report(test, [{ token: leaked.access, type: "appgrant_access_token" }], key);
  t.equal((again.json() as { label: string }[])[0]!.label, "true_positive", "a revoked token is still ours");
  t.equal((await leakedEvents(test)).length, 1, "reporting it again changes nothing and records nothing");
});

t.test("unsigned, wrongly signed and unknown-key reports: 401, nothing changed", async (t) => {
  const key = scannerKey("k1");
  const { test, server } = await withKeyServer(t, [key]);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 1, tokensPerApp: 0, codesPerApp: 1 });
  const entries: ReportEntry[] = [
    { token: corpus.pairs[0]!.access, type: "a" },
    { token: corpus.pairs[0]!.refresh, type: "r" },
    { token: corpus.codes[0]!.code, type: "c" },
    { token: corpus.apps[0]!.client_secret, type: "s" },
  ];
  const before = await snapshot(test);
  const otherKey = scannerKey("k1"); // same identifier, another key: a forgery
  const cases: [string, Awaited<ReturnType<typeof report>>][] = [
    ["unsigned", await report(test, entries, undefined)],
    ["signature only", await report(test, entries, undefined, { "github-public-key-signature": "MEUCIQ==" })],
    ["signed by another key", await report(test, entries, otherKey)],
    ["signature of another body", await report(test, entries, key, { "github-public-key-signature": await signatureOf(key, "[]") })],
    ["not base64", await report(test, entries, key, { "github-public-key-signature": "%%%" })],
    ["not DER", await report(test, entries, key, { "github-public-key-signature": randomBytes(64).toString("base64") })],
    ["unknown key", await report(test, entries, scannerKey("k-unknown"))],
  ];
  for (const [name, res] of cases) {
    t.equal(res.statusCode, 401, `${name}: 401`);
    t.equal((res.json() as { code: string }).code, "unauthorized", name);
  }
  t.same(await snapshot(test), before, "no token, code, secret or application changed");
  t.equal((await leakedEvents(test)).length, 0, "no event");
  t.ok(await isActive(test, corpus.pairs[0]!.access));
  t.equal(server.requests, 1, "the unknown identifier, within a minute of the last load, did not reload the document");
});

async function signatureOf(key: ScannerKey, body: string): Promise<string> {
  const { sign } = await import("node:crypto");
  return sign("sha256", Buffer.from(body), { key: key.privateKey, dsaEncoding: "der" }).toString("base64");
}

t.test("rotated keys: an unknown identifier reloads the document, at most once per minute", async (t) => {
  const old = scannerKey("old");
  const { test, server } = await withKeyServer(t, [old]);
  const token = generateCredential("accessToken");
  t.equal((await report(test, [{ token }], old)).statusCode, 200, "the first key verifies");
  t.equal(server.requests, 1);

  const rotated = scannerKey("new");
  server.document = keyDocument([rotated, old]);
  test.clock.advance(61);
  t.equal((await report(test, [{ token }], rotated)).statusCode, 200, "the new key is fetched on its first use");
  t.equal(server.requests, 2);
  t.equal((await report(test, [{ token }], old)).statusCode, 200, "the old key still verifies");

  for (let i = 0; i < 5; i++) t.equal((await report(test, [{ token }], scannerKey(`random-${i}`))).statusCode, 401);
  t.equal(server.requests, 2, "made-up identifiers within a minute of the last load cost no reload");
  const later = scannerKey("later");
  server.document = keyDocument([later]);
  t.equal((await report(test, [{ token }], later)).statusCode, 401, "within the interval, a new key waits");
  test.clock.advance(61);
  t.equal((await report(test, [{ token }], later)).statusCode, 200, "after it, the document is reloaded");
  t.equal(server.requests, 3);
  t.equal((await report(test, [{ token }], old)).statusCode, 401, "a key dropped from the document no longer verifies");
  t.equal(server.requests, 3);
});

t.test("a key server that does not answer: 503 (retry later), and it is not asked again at once", async (t) => {
  const server = await keyServer();
  const url = server.url;
  await server.close();
  const test = await buildTestApp(t, { APPGRANT_SECRET_SCANNING_KEYS_URL: url });
  const key = scannerKey("k1");
  const first = await report(test, [{ token: generateCredential("accessToken") }], key);
  t.equal(first.statusCode, 503);
  t.equal(first.headers["retry-after"], "60");
  t.equal((await report(test, [{ token: generateCredential("accessToken") }], key)).statusCode, 503);
});

t.test("keys from a file; replacing the file rotates them", async (t) => {
  const first = scannerKey("file-1");
  const path = keyFile(t, [first]);
  const test = await buildTestApp(t, { APPGRANT_SECRET_SCANNING_KEYS_FILE: path });
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 1, tokensPerApp: 0, codesPerApp: 0 });
  const res = await report(test, [{ token: corpus.pairs[0]!.refresh, type: "appgrant_refresh_token" }], first);
  t.equal(res.statusCode, 200, res.body);
  t.equal((res.json() as { label: string }[])[0]!.label, "true_positive");
  t.equal(
    (await refresh(test, { client_id: corpus.apps[0]!.client_id, client_secret: corpus.apps[0]!.client_secret }, corpus.pairs[0]!.refresh))
      .statusCode,
    400,
  );

  const second = scannerKey("file-2");
  writeFileSync(path, keyDocument([second]));
  test.clock.advance(61);
  t.equal((await report(test, [{ token: "x" }], second)).statusCode, 200, "the new file's key verifies");
  t.equal((await report(test, [{ token: "x" }], scannerKey("file-1"))).statusCode, 401, "a forged key with the old identifier does not");
  t.equal((await report(test, [{ token: "x" }], scannerKey("file-2"))).statusCode, 401, "nor one with the new identifier");
});

t.test("malformed reports after a good signature: 400, nothing changed", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key]);
  const send = (payload: string) =>
    test.app.inject({
      method: "POST",
      url: "/secret-scanning/github",
      headers: { "content-type": "application/json", "github-public-key-identifier": key.id, "github-public-key-signature": "" },
      payload,
    });
  t.equal((await send("[]")).statusCode, 401, "an empty signature header is unsigned");
  for (const body of [
    "{}",
    "not json",
    '[{"type":"x"}]',
    '[{"token":7}]',
    '[{"token":"x","url":{}}]',
    JSON.stringify(Array(1001).fill({ token: "x" })),
  ]) {
    const res = await test.app.inject({
      method: "POST",
      url: "/secret-scanning/github",
      headers: {
        "content-type": "application/json",
        "github-public-key-identifier": key.id,
        "github-public-key-signature": await signatureOf(key, body),
      },
      payload: body,
    });
    t.equal(res.statusCode, 400, `${body.slice(0, 30)}: 400`);
  }
  t.equal((await leakedEvents(test)).length, 0);
});

for (const action of ["notify", "revoke"] as const) {
  t.test(`a batch of 1,000 mixed entries (APPGRANT_LEAKED_SECRET_ACTION=${action}) in under 5 s: exact labels, effects and events`, async (t) => {
    const key = scannerKey("k1");
    const { test } = await withKeyServer(t, [key], { APPGRANT_LEAKED_SECRET_ACTION: action });
    const corpus = await buildCorpus(test, { appCount: 4, pairsPerApp: 6, tokensPerApp: 2, codesPerApp: 3 });
    // Apps 0 and 1 have tokens and codes reported, app 2 its webhook secret, app 3 its client secret.
    const [quietApp, , webhookApp, secretApp] = corpus.apps as [(typeof corpus.apps)[0], unknown, (typeof corpus.apps)[0], (typeof corpus.apps)[0]];
    // What is reported (ours), and what is not and must stay as it is.
    const byApp = (index: number) => corpus.pairs.filter((pair) => pair.clientIndex === index);
    const leakedAccess = byApp(0).slice(0, 3);
    const leakedRefresh = byApp(0).slice(3, 6).concat(byApp(1).slice(0, 2));
    const leakedInstallation = corpus.installationTokens.slice(0, 3);
    const leakedCodes = corpus.codes.filter((code) => code.clientIndex < 2);
    const untouchedPairs = byApp(1).slice(2).concat(byApp(2), byApp(3));
    const untouchedInstallation = corpus.installationTokens.slice(3);
    const untouchedCodes = corpus.codes.filter((code) => code.clientIndex >= 2);

    const ours: ReportEntry[] = [
      ...leakedAccess.map((pair) => ({ token: pair.access, type: "appgrant_access_token" })),
      ...leakedRefresh.map((pair) => ({ token: pair.refresh, type: "appgrant_refresh_token" })),
      ...leakedInstallation.map((token) => ({ token, type: "appgrant_installation_token" })),
      ...leakedCodes.map((code) => ({ token: code.code, type: "appgrant_code" })),
      { token: corpus.usedCode, type: "appgrant_code" },
      { token: secretApp.client_secret, type: "appgrant_client_secret" },
      { token: webhookApp.webhook_secret, type: "appgrant_webhook_secret" },
    ].map((entry, index) => ({ ...entry, url: `https://github.com/acme/repo/blob/main/leak-${index}`, source: "content" }));
    const garbage: ReportEntry[] = [];
    const kinds = ["accessToken", "installationToken", "refreshToken", "code", "clientSecret", "webhookSecret"] as const;
    while (ours.length + garbage.length < 999) {
      const n = garbage.length;
      const token =
        n % 3 === 0
          ? generateCredential(kinds[n % kinds.length]!) // well-formed, unknown: costs a lookup
          : n % 3 === 1
            ? `${generateCredential("accessToken").slice(0, -1)}0` // a broken checksum
            : `whsec_${randomBytes(32).toString("base64")}`; // a Standard Webhooks secret of someone else
      garbage.push({ token, type: "garbage", url: "https://github.com/acme/repo", source: "commit" });
    }
    const entries = [...ours, ...garbage, { token: leakedAccess[0]!.access, type: "appgrant_access_token" }];
    t.equal(entries.length, 1000);

    const before = await snapshot(test);
    const started = performance.now();
    const res = await report(test, entries, key);
    const elapsed = performance.now() - started;
    t.equal(res.statusCode, 200, res.body.slice(0, 300));
    t.ok(elapsed < 5000, `1,000 entries handled in ${Math.round(elapsed)} ms`);
    t.comment(`1,000 entries: ${Math.round(elapsed)} ms (${process.env.TEST_DATABASE_URL ? "PostgreSQL" : "SQLite"})`);

    const labels = res.json() as { token_hash: string; token_type: string; label: string }[];
    t.same(
      labels,
      entries.map((entry, index) => ({
        token_hash: sha256(entry.token),
        token_type: entry.type,
        label: index < ours.length || index === 999 ? "true_positive" : "false_positive",
      })),
      "one label per entry, in order: ours true_positive, the rest false_positive",
    );

    // Tokens: revoked at once, everywhere.
    for (const pair of leakedAccess) t.notOk(await isActive(test, pair.access), "a leaked access token is inactive");
    for (const pair of leakedRefresh) {
      t.notOk(await isActive(test, pair.access), "a leaked refresh token's pair is inactive");
      const app = corpus.apps[pair.clientIndex]!;
      t.equal((await refresh(test, app, pair.refresh)).statusCode, 400, "a leaked refresh token no longer refreshes");
    }
    for (const token of leakedInstallation) t.notOk(await isActive(test, token), "a leaked installation token is inactive");
    for (const { code, clientIndex } of leakedCodes) {
      const res = await tokenRequest(test, { grant_type: "authorization_code", code }, { client: corpus.apps[clientIndex]! });
      t.equal(res.statusCode, 400, "a leaked code cannot be exchanged");
    }
    // Everything else: as it was.
    for (const pair of untouchedPairs) t.ok(await isActive(test, pair.access), "an unreported token is active");
    for (const token of untouchedInstallation) t.ok(await isActive(test, token), "an unreported installation token is active");
    const after = await snapshot(test);
    const changed = (a: Map<string, string>, b: Map<string, string>) => [...a.keys()].filter((id) => a.get(id) !== b.get(id));
    const reportedFamilies = new Set(
      (
        await test.app.domain.db.token.findMany({
          where: { refreshTokenHash: { in: leakedRefresh.map((pair) => sha256(pair.refresh)) } },
          select: { familyId: true },
        })
      ).map((row) => row.familyId),
    );
    const expectedTokens = (
      await test.app.domain.db.token.findMany({
        where: {
          OR: [
            { familyId: { in: [...reportedFamilies] } },
            { accessTokenHash: { in: [...leakedAccess.map((pair) => sha256(pair.access)), ...leakedInstallation.map(sha256)] } },
          ],
          revokedReason: "leaked",
        },
        select: { id: true },
      })
    ).map((row) => row.id);
    t.same(changed(before.tokens, after.tokens).sort(), expectedTokens.sort(), "exactly the reported tokens (and the reported families) changed");
    const leakedCodeIds = (
      await test.app.domain.db.authorizationCode.findMany({
        where: { codeHash: { in: leakedCodes.map((code) => sha256(code.code)) } },
        select: { id: true },
      })
    ).map((row) => row.id);
    t.same(
      changed(before.codes, after.codes).sort(),
      leakedCodeIds.sort(),
      "exactly the unexchanged reported codes changed (the exchanged one, and the unreported ones, are left alone)",
    );
    t.equal(untouchedCodes.length, 6);

    // Secrets, by policy.
    const secretRow = await test.app.domain.db.clientSecret.findFirst({ where: { applicationId: secretApp.id } });
    const webhookRow = await test.app.domain.db.application.findUniqueOrThrow({ where: { id: webhookApp.id } });
    if (action === "notify") {
      t.ok(secretRow?.compromisedAt, "the client secret is marked compromised");
      t.ok(await authenticates(test, secretApp), "and kept: it still authenticates");
      t.ok(webhookRow.webhookSecretCompromisedAt, "the webhook secret is marked compromised");
      t.equal(decrypt(test.app.domain.secretKey, WEBHOOK_SECRET_PURPOSE, webhookRow.webhookSecretEncrypted!), webhookApp.webhook_secret, "and kept");
      t.equal(webhookRow.webhooksPausedAt, null, "its webhooks go on: the application still knows the secret");
    } else {
      t.equal(secretRow, null, "the client secret is deleted");
      t.notOk(await authenticates(test, secretApp), "it no longer authenticates");
      const current = decrypt(test.app.domain.secretKey, WEBHOOK_SECRET_PURPOSE, webhookRow.webhookSecretEncrypted!);
      t.not(current, webhookApp.webhook_secret, "the webhook secret is replaced: the leaked one signs nothing");
      t.equal(webhookRow.webhookSecretHash, sha256(current));
      t.same(webhookRow.webhooksPausedAt, test.clock(), "its webhooks are paused until an operator rotates the secret and resumes them");
      const paused = await test.app.domain.db.event.findMany({ where: { type: "application.webhooks_paused" } });
      t.same(
        paused.map((event) => [event.applicationId, JSON.parse(event.data)]),
        [[webhookApp.id, { reason: "webhook_secret_leaked" }]],
        "application.webhooks_paused, once, for that application",
      );
    }
    t.ok(await authenticates(test, quietApp), "an unreported secret still authenticates");
    const changedSecrets = changed(before.secrets, after.secrets);
    t.equal(changedSecrets.length, 1, "one client secret changed");
    t.same(changed(before.apps, after.apps), [webhookApp.id], "one application changed");

    // Events: one per credential the report changed, never the credential itself; webhooks to the apps.
    const events = await leakedEvents(test);
    const expectedEvents = leakedAccess.length + new Set(reportedFamilies).size + leakedInstallation.length + leakedCodes.length + 2;
    t.equal(events.length, expectedEvents, "one credential.leaked per credential changed");
    const text = JSON.stringify(events);
    for (const entry of ours) if (text.includes(entry.token)) t.fail("an event holds a credential");
    t.same([...new Set(events.map((event) => (JSON.parse(event.data) as { credential_type: string }).credential_type))].sort(), [
      "access_token",
      "authorization_code",
      "client_secret",
      "installation_token",
      "refresh_token",
      "webhook_secret",
    ]);
    for (const event of events)
      t.match(JSON.parse(event.data), {
        reporter: "secret_scanning",
        source: "content",
        url: /^https:\/\/github\.com\/acme\/repo\/blob\/main\/leak-\d+$/,
      });
    const deliveries = await test.app.domain.db.webhookDelivery.findMany({ where: { type: "credential.leaked" } });
    t.same(deliveries.map((row) => row.eventId).sort(), events.map((event) => event.id).sort(), "each event has its webhook delivery");
    const logs = test.logs.join("\n");
    for (const entry of ours) if (logs.includes(entry.token)) t.fail("a credential was logged");
  });
}

t.test("a leaked webhook secret sealed before its hash was stored is still found (filled on the report)", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key]);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 0, tokensPerApp: 0, codesPerApp: 0 });
  await test.app.domain.db.application.updateMany({ data: { webhookSecretHash: null } });
  const res = await report(test, [{ token: corpus.apps[0]!.webhook_secret, type: "w" }], key);
  t.equal((res.json() as { label: string }[])[0]!.label, "true_positive");
  t.ok((await test.app.domain.db.application.findFirstOrThrow()).webhookSecretCompromisedAt);
});

t.test("the previous webhook secret (a rotation's overlap), notify: marked once, kept signing; a repeat records nothing", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key]);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 0, tokensPerApp: 0, codesPerApp: 0 });
  const app = corpus.apps[0]!;
  const db = test.app.domain.db;
  const rotate = async () => {
    const res = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
    t.equal(res.statusCode, 201, "rotated");
    return (res.json() as { webhook_secret: string }).webhook_secret;
  };
  const label = async (secret: string) =>
    ((await report(test, [{ token: secret, type: "appgrant_webhook_secret" }], key)).json() as { label: string }[])[0]!.label;
  const deliveries = () => db.webhookDelivery.count({ where: { type: "credential.leaked" } });
  const first = app.webhook_secret;
  const second = await rotate();

  t.equal(await label(first), "true_positive", "the previous secret is found");
  let row = await db.application.findUniqueOrThrow({ where: { id: app.id } });
  t.same(row.webhookSecretPreviousCompromisedAt, test.clock(), "and marked compromised");
  t.equal(
    decrypt(test.app.domain.secretKey, WEBHOOK_SECRET_PURPOSE, row.webhookSecretPreviousEncrypted!),
    first,
    "and kept: it signs until its overlap ends",
  );
  t.equal(row.webhookSecretCompromisedAt, null, "the current secret is not marked");
  const events = await leakedEvents(test);
  t.equal(events.length, 1);
  t.match(JSON.parse(events[0]!.data), { credential_type: "webhook_secret", action: "marked_compromised", secret: "previous" });
  t.equal(await deliveries(), 1, "and its webhook");

  test.clock.advance(60);
  t.equal(await label(first), "true_positive", "reported again: still ours");
  t.equal((await leakedEvents(test)).length, 1, "but no second event");
  t.equal(await deliveries(), 1, "nor a second webhook");
  row = await db.application.findUniqueOrThrow({ where: { id: app.id } });
  t.same(row.webhookSecretPreviousCompromisedAt, new Date(test.clock().getTime() - 60_000), "the mark keeps its first moment");

  // A secret marked while current keeps its mark once a rotation makes it the previous one.
  t.equal(await label(second), "true_positive");
  t.equal((await leakedEvents(test)).length, 2, "the current one, reported: its own event");
  await rotate();
  row = await db.application.findUniqueOrThrow({ where: { id: app.id } });
  t.same(row.webhookSecretPreviousCompromisedAt, test.clock(), "rotated out, it is still marked");
  t.equal(row.webhookSecretCompromisedAt, null, "the new current one is not");
  t.equal(await label(second), "true_positive");
  t.equal((await leakedEvents(test)).length, 2, "reporting it again, now previous, records nothing");
});

t.test("the previous webhook secret, revoke: its overlap ends at once; the current one, and the webhooks, are untouched", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key], { APPGRANT_LEAKED_SECRET_ACTION: "revoke" });
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 0, tokensPerApp: 0, codesPerApp: 0 });
  const app = corpus.apps[0]!;
  const db = test.app.domain.db;
  const rotated = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
  t.equal(rotated.statusCode, 201);
  const before = await db.application.findUniqueOrThrow({ where: { id: app.id } });

  const res = await report(test, [{ token: app.webhook_secret, type: "appgrant_webhook_secret" }], key);
  t.equal((res.json() as { label: string }[])[0]!.label, "true_positive");
  const after = await db.application.findUniqueOrThrow({ where: { id: app.id } });
  t.same(
    [after.webhookSecretPreviousEncrypted, after.webhookSecretPreviousHash, after.webhookSecretPreviousUntil],
    [null, null, null],
    "the previous secret is gone: it signs nothing more",
  );
  t.same(
    [after.webhookSecretEncrypted, after.webhookSecretHash, after.webhookSecretCompromisedAt, after.webhooksPausedAt],
    [before.webhookSecretEncrypted, before.webhookSecretHash, null, null],
    "the current secret still signs, and deliveries go on (the application knows it)",
  );
  const events = await leakedEvents(test);
  t.equal(events.length, 1);
  t.match(JSON.parse(events[0]!.data), { credential_type: "webhook_secret", action: "deleted", secret: "previous" });

  test.clock.advance(60);
  await report(test, [{ token: app.webhook_secret, type: "appgrant_webhook_secret" }], key);
  t.equal((await leakedEvents(test)).length, 1, "reported again: nothing left to change, nothing recorded");
});

t.test("a client secret created before its SHA-256 was stored is found once it has authenticated (filled then, once)", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key]);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 0, tokensPerApp: 0, codesPerApp: 0 });
  const app = corpus.apps[0]!;
  test.clock.advance(1);
  const added = await test.admin("POST", `/admin/v1/applications/${app.id}/secrets`, {});
  t.equal(added.statusCode, 201, "a second secret");
  const other = (added.json() as { client_secret: string }).client_secret;
  const db = test.app.domain.db;
  await db.clientSecret.updateMany({ data: { lookupHash: null } }); // as migration 20261202222055_leaked_credentials left them
  const lookups = async () =>
    (await db.clientSecret.findMany({ orderBy: { createdAt: "asc" }, select: { lookupHash: true } })).map((row) => row.lookupHash);
  const label = async (secret: string) =>
    ((await report(test, [{ token: secret, type: "appgrant_client_secret" }], key)).json() as { label: string }[])[0]!.label;

  t.equal(await label(app.client_secret), "false_positive", "before it authenticates, a report cannot find it");
  t.notOk(await authenticates(test, { client_id: app.client_id, client_secret: generateCredential("clientSecret") }), "a wrong secret fails");
  t.same(await lookups(), [null, null], "and fills nothing");

  t.ok(await authenticates(test, app), "the secret authenticates");
  t.same(await lookups(), [sha256(app.client_secret), null], "its SHA-256 is stored; the other secret, not presented, is left alone");
  t.ok(await authenticates(test, app), "and authenticates again (from memory)");
  t.equal(await label(app.client_secret), "true_positive", "a report finds it now");
  const [leaked] = await db.clientSecret.findMany({ orderBy: { createdAt: "asc" } });
  t.ok(leaked!.compromisedAt, "and marks it compromised");
  t.equal(await label(other), "false_positive", "the other secret is still unfound until it authenticates");
  t.ok(await authenticates(test, { client_id: app.client_id, client_secret: other }));
  t.equal(await label(other), "true_positive", "then it is found too");
  t.equal((await leakedEvents(test)).length, 2, "one event per secret found");
});

t.test("the worst case: 1,000 live credentials in one report, each revoked with its event and webhook, in under 5 s", async (t) => {
  const key = scannerKey("k1");
  const { test } = await withKeyServer(t, [key]);
  const corpus = await buildCorpus(test, { appCount: 1, pairsPerApp: 1, tokensPerApp: 0, codesPerApp: 0 });
  const model = await test.app.domain.db.token.findFirstOrThrow();
  const now = test.clock();
  const values = Array.from({ length: 1000 }, () => {
    const id = newId(now.getTime());
    return { access: generateCredential("accessToken", id), refresh: generateCredential("refreshToken", id), id };
  });
  await test.app.domain.db.token.createMany({
    data: values.map(({ access, refresh, id }) => ({
      ...model,
      id,
      accessTokenHash: sha256(access),
      refreshTokenHash: sha256(refresh),
      familyId: id,
      parentId: null,
      codeId: null,
      createdAt: now,
    })),
  });
  // Half reported by their refresh token (a family each), half by their access token.
  const entries = values.map((value, i) => ({
    token: i % 2 === 0 ? value.refresh : value.access,
    type: "t",
    url: `https://github.com/o/r/${i}`,
    source: "content",
  }));
  const started = performance.now();
  const res = await report(test, entries, key);
  const elapsed = performance.now() - started;
  t.equal(res.statusCode, 200);
  t.ok(elapsed < 5000, `handled in ${Math.round(elapsed)} ms`);
  t.comment(`1,000 live credentials: ${Math.round(elapsed)} ms (${process.env.TEST_DATABASE_URL ? "PostgreSQL" : "SQLite"})`);
  t.ok((res.json() as { label: string }[]).every((entry) => entry.label === "true_positive"));
  const ids = new Set(values.map((value) => value.id));
  const leaked = await test.app.domain.db.token.findMany({ where: { revokedReason: "leaked" }, select: { id: true } });
  t.equal(leaked.filter((row) => ids.has(row.id)).length, 1000);
  t.equal((await leakedEvents(test)).length, 1000, "one event each");
  t.equal(await test.app.domain.db.webhookDelivery.count({ where: { type: "credential.leaked" } }), 1000, "and one webhook each");
  t.ok(await isActive(test, corpus.pairs[0]!.access), "the token not reported is active");
});
