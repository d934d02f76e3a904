import t from "tap";
import { purgeExpired } from "../../src/domain/purge.js";
import { buildTestApp, createApp, install } from "../support/helper.js";

t.test("purges expired codes, requests and tokens in batches and keeps everything still usable", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_CONSENT_URL: "https://platform.example/consent" });
  const app = await createApp(test);
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const auth = `client_id=${app.client_id}&client_secret=${app.client_secret}`;

  // Five installations: one code exchanged, four left to expire.
  const installs = [];
  for (const account of ["a", "b", "c", "d", "e"]) installs.push(await install(test, app.client_id, { account }));
  const exchanged = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: form,
    payload: `grant_type=authorization_code&code=${installs[0]!.code}&${auth}`,
  });
  t.equal(exchanged.statusCode, 200);
  const authorize = await test.app.inject({ method: "GET", url: `/oauth/authorize?response_type=code&client_id=${app.client_id}` });
  t.equal(authorize.statusCode, 302);

  // Day 100: a refresh makes a successor that lives until day 280.
  test.clock.advance(100 * 86_400);
  const refreshed = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: form,
    payload: `grant_type=refresh_token&refresh_token=${exchanged.json().refresh_token}&${auth}`,
  });
  t.equal(refreshed.statusCode, 200);

  // Day 181: the first pair is past its refresh expiry, the successor is not; a code
  // issued now is not expired.
  test.clock.advance(81 * 86_400);
  const liveCode = await install(test, app.client_id, { account: "f" });
  // Events past the retention (90 days) go too: those of day 0.
  const oldEvents = await test.app.domain.db.event.count({ where: { occurredAt: { lt: new Date(test.clock().getTime() - 90 * 86_400_000) } } });
  t.ok(oldEvents > 0, "the application's creation is older than the retention");
  const removed = await purgeExpired(test.app.domain, 2);
  t.same(removed, {
    codes: 5,
    authorizationRequests: 1,
    tokens: 1,
    clientAssertions: 0,
    deviceAuthorizations: 0,
    webhookCodes: 0,
    events: oldEvents,
    webhookDeliveries: 0,
  });

  const db = test.app.domain.db;
  t.equal(await db.token.count(), 1, "the successor remains");
  t.same(
    (await db.authorizationCode.findMany()).map((code) => code.installationId),
    [liveCode.id],
    "the unexpired code remains",
  );
  const stillWorks = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: form,
    payload: `grant_type=refresh_token&refresh_token=${refreshed.json().refresh_token}&${auth}`,
  });
  t.equal(stillWorks.statusCode, 200, "the surviving refresh token still refreshes");
});

t.test("purges the jtis of client assertions once they have expired, and keeps the live ones", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const now = test.clock().getTime();
  const db = test.app.domain.db;
  await db.clientAssertion.createMany({
    data: [
      { id: "a".repeat(64), applicationId: app.id, expiresAt: new Date(now - 1000) },
      { id: "b".repeat(64), applicationId: app.id, expiresAt: new Date(now + 60_000) },
    ],
  });
  t.match(await purgeExpired(test.app.domain), { clientAssertions: 1 });
  t.same(
    (await db.clientAssertion.findMany()).map((row) => row.id),
    ["b".repeat(64)],
    "a jti still within its assertion's life stays: its replay is still refused",
  );
});

t.test("purges device authorizations past their expiry, answered or not, and keeps the live ones", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const now = test.clock().getTime();
  const db = test.app.domain.db;
  const row = (id: string, expiresAt: number, status: string) => ({
    id,
    deviceCodeHash: id.repeat(64),
    userCodeHash: id.repeat(63) + "u",
    applicationId: app.id,
    scopes: "read",
    createdAt: new Date(now - 600_000),
    expiresAt: new Date(expiresAt),
    interval: 5,
    status,
  });
  await db.deviceAuthorization.createMany({
    data: [row("a", now - 1000, "pending"), row("b", now - 1000, "accepted"), row("c", now + 60_000, "pending")],
  });
  t.match(await purgeExpired(test.app.domain, 1), { deviceAuthorizations: 2 });
  t.same(
    (await db.deviceAuthorization.findMany()).map((r) => r.id),
    ["c"],
  );
});

t.test("erases the sealed code of a held delivery once the code has expired, and keeps a live one", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { webhook_url: "https://hooks.example/appgrant" });
  // Paused: the worker claims none of its deliveries, so only the purge can reach them.
  const { pauseWebhooks } = await import("../../src/domain/webhook-pause.js");
  await pauseWebhooks(test.app.domain, app.id, { failures: 20, since: test.clock() });
  const db = test.app.domain.db;
  const expired = await install(test, app.client_id, { account: "expired" });
  test.clock.advance(test.config.codeLifetime + 1);
  const live = await install(test, app.client_id, { account: "live" });
  const delivery = (installationId: string) => db.webhookDelivery.findFirstOrThrow({ where: { installationId } });
  t.type((await delivery(expired.id)).codeEncrypted, "string");

  t.match(await purgeExpired(test.app.domain, 1), { codes: 1, webhookCodes: 1 });
  const erased = await delivery(expired.id);
  t.equal(erased.codeEncrypted, null, "the expired code's seal is erased");
  t.equal(erased.status, "pending", "the delivery itself stays, to be sent without the code");
  t.type((await delivery(live.id)).codeEncrypted, "string", "a code still valid stays sealed for its delivery");
});

t.test("ended webhook deliveries go with the events past the retention; pending ones stay, however old", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const db = test.app.domain.db;
  const day = 86_400_000;
  const now = test.clock().getTime();
  const delivery = (id: string, status: string, lastDueDaysAgo: number) => ({
    id,
    eventId: `event-${id}`,
    applicationId: app.id,
    type: "installation.created",
    payload: "{}",
    status,
    nextAttemptAt: new Date(now - lastDueDaysAgo * day),
    createdAt: new Date(now - (lastDueDaysAgo + 1) * day),
  });
  await db.webhookDelivery.createMany({
    data: [
      delivery("old-delivered", "delivered", 91),
      delivery("old-failed", "failed", 95),
      delivery("old-pending", "pending", 120),
      delivery("recent-delivered", "delivered", 89),
      delivery("recent-failed", "failed", 2),
    ],
  });
  const removed = await purgeExpired(test.app.domain, 1);
  t.equal(removed.webhookDeliveries, 2, "the two ended deliveries past 90 days");
  t.same(
    (await db.webhookDelivery.findMany({ orderBy: { id: "asc" }, select: { id: true } })).map((row) => row.id),
    ["old-pending", "recent-delivered", "recent-failed"],
    "pending and recent deliveries remain",
  );
});

t.test("with APPGRANT_EVENT_RETENTION_DAYS=0 ended deliveries are kept, like events", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_EVENT_RETENTION_DAYS: "0" });
  const app = await createApp(test);
  const old = new Date(test.clock().getTime() - 1000 * 86_400_000);
  await test.app.domain.db.webhookDelivery.create({
    data: {
      id: "ancient",
      eventId: "e",
      applicationId: app.id,
      type: "installation.created",
      payload: "{}",
      status: "delivered",
      nextAttemptAt: old,
      createdAt: old,
    },
  });
  t.equal((await purgeExpired(test.app.domain)).webhookDeliveries, 0);
  t.equal(await test.app.domain.db.webhookDelivery.count(), 1);
});
