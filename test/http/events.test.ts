// Events (the audit log): every admin change leaves exactly its event, in the change's
// own transaction, with who made it; the token endpoint's revocations and the
// failed-authentication lock leave theirs; none holds a secret; GET /admin/v1/events
// reads them back.
import { createHash } from "node:crypto";
import t, { type Test } from "tap";
import type { Event } from "../../src/generated/prisma/client.js";
import {
  createApplication,
  addSecret,
  deleteSecret,
  rotateWebhookSecret,
  updateApplication,
  deleteApplication,
} from "../../src/domain/applications.js";
import type { DomainContext } from "../../src/domain/context.js";
import { purgeExpired } from "../../src/domain/purge.js";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { basic, exchange, issuedSecrets, newClient, refresh, remember, setup, tokenRequest } from "../support/oauth-helper.js";

const ADMIN_ID = `admin:${createHash("sha256").update(ADMIN_TOKEN).digest("hex").slice(0, 12)}`;
const CONSENT = "https://platform.example/consent";
const CALLBACK = "https://app.example/callback";

const allEvents = (test: TestApp) => test.app.domain.db.event.findMany({ orderBy: { id: "asc" } });

/** Runs `action` and returns the events it added (in order). */
async function eventsOf(test: TestApp, action: () => Promise<unknown>): Promise<Event[]> {
  const before = new Set((await allEvents(test)).map((event) => event.id));
  await action();
  return (await allEvents(test)).filter((event) => !before.has(event.id));
}

async function expectAdminEvent(t: Test, test: TestApp, type: string, action: () => Promise<{ statusCode: number; body: string }>) {
  let status = 0;
  const events = await eventsOf(test, async () => {
    const res = await action();
    status = res.statusCode;
    if (res.statusCode >= 300 && res.statusCode !== 302) t.fail(`${type}: ${res.statusCode} ${res.body}`);
  });
  t.same(
    events.map((event) => event.type),
    [type],
    `${type}: exactly its event (HTTP ${status})`,
  );
  const event = events[0]!;
  t.equal(event.actorType, "admin", `${type}: actor admin`);
  t.equal(event.actorId, ADMIN_ID, `${type}: the admin credential's id, not the token`);
  t.match(event.requestId, /\S+/, `${type}: the request id`);
  t.equal(event.sourceIp, "127.0.0.1", `${type}: the caller's address`);
  return { ...event, data: JSON.parse(event.data) as Record<string, unknown> };
}

/** Every secret the scenario issued must be absent from every Event (and WebhookDelivery) row. */
async function expectNoSecretInEvents(t: Test, test: TestApp, secrets: string[]) {
  const rows = JSON.stringify([...(await allEvents(test)), ...(await test.app.domain.db.webhookDelivery.findMany())]);
  t.ok(secrets.length > 0, "the scenario issued secrets");
  for (const secret of secrets) t.notOk(rows.includes(secret), `no event holds the secret ${secret.slice(0, 6)}…`);
  t.notOk(rows.includes(ADMIN_TOKEN), "nor the admin token");
}

t.test("every admin change leaves exactly its event, with the admin as actor, and no secret", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_CONSENT_URL: CONSENT });
  const secrets: string[] = [];
  let created: Awaited<ReturnType<typeof createApp>> | undefined;
  const createdEvent = await expectAdminEvent(t, test, "application.created", async () => {
    const res = await test.admin("POST", "/admin/v1/applications", {
      name: "Audited",
      redirect_uris: [CALLBACK],
      scopes: ["read", "write"],
      webhook_url: "https://app.example/hook?token=hunter2",
    });
    created = res.json();
    return res;
  });
  secrets.push(created!.client_secret!, created!.webhook_secret as string);
  t.equal(createdEvent.applicationId, created!.id);
  t.match(createdEvent.data, { client_id: created!.client_id, name: "Audited", client_type: "confidential", scopes: ["read", "write"] });
  t.equal(createdEvent.data.webhook_url, "https://app.example/hook?…", "the webhook URL without its query");
  const id = created!.id;

  const updated = await expectAdminEvent(t, test, "application.updated", () =>
    test.admin("PATCH", `/admin/v1/applications/${id}`, { name: "Audited 2", scopes: ["read", "write"] }),
  );
  t.same(updated.data, { changed: ["name"], name: "Audited 2" }, "the names of the changed fields and their new values");

  let secretId = "";
  const added = await expectAdminEvent(t, test, "application.secret_added", async () => {
    const res = await test.admin("POST", `/admin/v1/applications/${id}/secrets`, {});
    secretId = res.json().id;
    secrets.push(res.json().client_secret);
    return res;
  });
  t.same(added.data, { secret_id: secretId, expires_at: null });

  const deleted = await expectAdminEvent(t, test, "application.secret_deleted", () =>
    test.admin("DELETE", `/admin/v1/applications/${id}/secrets/${secretId}`),
  );
  t.same(deleted.data, { secret_id: secretId, was_active: true, forced: false });

  await expectAdminEvent(t, test, "application.webhook_secret_rotated", async () => {
    const res = await test.admin("POST", `/admin/v1/applications/${id}/webhook-secret`);
    secrets.push(res.json().webhook_secret);
    return res;
  });

  const authorize = async () => {
    const res = await test.app.inject({
      method: "GET",
      url: `/oauth/authorize?${new URLSearchParams({ response_type: "code", client_id: created!.client_id, redirect_uri: CALLBACK, state: "s" })}`,
    });
    return new URL(String(res.headers.location)).searchParams.get("request_id")!;
  };
  const rejectId = await authorize();
  const rejected = await expectAdminEvent(t, test, "authorization_request.rejected", () =>
    test.admin("POST", `/admin/v1/authorization-requests/${rejectId}/reject`),
  );
  t.same(rejected.data, { authorization_request_id: rejectId });
  t.equal(rejected.applicationId, id);

  const acceptId = await authorize();
  const acceptEvents = await eventsOf(test, async () => {
    const res = await test.admin("POST", `/admin/v1/authorization-requests/${acceptId}/accept`, { account: "acme" });
    t.equal(res.statusCode, 200);
    secrets.push(new URL(res.json().redirect_to).searchParams.get("code")!);
  });
  const accepted = acceptEvents.find((event) => event.type === "authorization_request.accepted");
  t.ok(accepted, "accepting leaves authorization_request.accepted (beside the installation's own events)");
  t.equal(accepted?.actorId, ADMIN_ID);
  t.match(JSON.parse(accepted!.data), { authorization_request_id: acceptId, account: "acme", scopes: ["read"], installation_created: true });
  t.equal(accepted?.installationId, (await test.app.domain.db.installation.findFirstOrThrow()).id);

  const deletedApp = await expectAdminEvent(t, test, "application.deleted", () => test.admin("DELETE", `/admin/v1/applications/${id}`));
  t.same(deletedApp.data, { client_id: created!.client_id, name: "Audited 2" });
  t.equal(deletedApp.applicationId, id, "the history outlives the application");

  await expectNoSecretInEvents(t, test, secrets);
});

t.test("a change whose transaction fails after its event leaves neither", async (t) => {
  const test = await buildTestApp(t);
  const client = await createApp(test);
  const ctx = test.app.domain;
  /** The context whose transactions fail after the use case's last statement (its event). */
  const failing: DomainContext = {
    ...ctx,
    transaction: (fn) =>
      ctx.transaction(async (tx) => {
        await fn(tx);
        throw new Error("injected failure after the event");
      }),
  };
  const snapshot = async () => ({
    events: await ctx.db.event.count(),
    applications: await ctx.db.application.findMany({ orderBy: { id: "asc" } }),
    secrets: await ctx.db.clientSecret.count(),
  });
  const before = await snapshot();
  const attempts: [string, () => Promise<unknown>][] = [
    ["create", () => createApplication(failing, { name: "Never", redirectUris: [CALLBACK], scopes: ["read"] })],
    ["update", () => updateApplication(failing, client.id, { name: "Never" })],
    ["add a secret", () => addSecret(failing, client.id)],
    ["rotate the webhook secret", () => rotateWebhookSecret(failing, client.id)],
    ["delete", () => deleteApplication(failing, client.id)],
  ];
  for (const [name, attempt] of attempts) await t.rejects(attempt(), /injected failure/, `${name} fails`);
  const secretId = (await ctx.db.clientSecret.findFirstOrThrow()).id;
  await addSecret(ctx, client.id);
  const afterAdd = await snapshot();
  await t.rejects(deleteSecret(failing, client.id, secretId), /injected failure/);
  t.same(await snapshot(), afterAdd, "deleting a secret: no change, no event");
  t.equal(afterAdd.events, before.events + 1, "the one successful change has its event");
  const { events: _ignored, ...rest } = afterAdd;
  t.same(rest.applications, before.applications, "every failed change was rolled back with its event");
  t.equal(afterAdd.secrets, before.secrets + 1);
  t.equal(before.events, 1, "only application.created of the setup");

  // The event itself can fail the change: an event id that already exists.
  const existing = (await ctx.db.event.findFirstOrThrow()).id;
  const duplicate: DomainContext = {
    ...ctx,
    transaction: (fn) =>
      ctx.transaction(async (tx) => {
        const result = await fn(tx);
        await tx.event.create({ data: { ...(await tx.event.findFirstOrThrow({ where: { id: existing } })) } });
        return result;
      }),
  };
  await t.rejects(updateApplication(duplicate, client.id, { name: "Never either" }));
  t.equal((await ctx.db.application.findUniqueOrThrow({ where: { id: client.id } })).name, "Test App", "the change went with the event");
});

t.test("GET /admin/v1/events: newest first, filters, cursor, one event, and its errors", async (t) => {
  const test = await buildTestApp(t);
  const a = await createApp(test, { name: "A" });
  test.clock.advance(60);
  const b = await createApp(test, { name: "B" });
  await test.admin("PATCH", `/admin/v1/applications/${a.id}`, { name: "A2" });
  test.clock.advance(60);
  const installed = await install(test, b.client_id);

  const all = (await test.admin("GET", "/admin/v1/events")).json();
  t.equal(all.items.length, await test.app.domain.db.event.count(), "every event on one page");
  const ids = all.items.map((event: { id: string }) => event.id);
  t.same(ids, [...ids].sort().reverse(), "newest first");
  t.equal(all.next_cursor, null);
  t.match(all.items.at(-1), {
    type: "application.created",
    actor: { type: "admin", id: ADMIN_ID },
    application_id: a.id,
    installation_id: null,
    source_ip: "127.0.0.1",
    data: { name: "A" },
  });

  const updates = (await test.admin("GET", "/admin/v1/events?type=application.updated")).json();
  t.same(
    updates.items.map((event: { application_id: string }) => event.application_id),
    [a.id],
  );
  const two = (await test.admin("GET", "/admin/v1/events?type=application.updated&type=application.created")).json();
  t.equal(two.items.length, 3, "type repeats as OR");
  const ofB = (await test.admin("GET", `/admin/v1/events?application_id=${b.id}`)).json();
  t.ok(ofB.items.length >= 1 && ofB.items.every((event: { application_id: string }) => event.application_id === b.id));
  const ofInstallation = (await test.admin("GET", `/admin/v1/events?installation_id=${installed.id}`)).json();
  t.ok(ofInstallation.items.every((event: { installation_id: string }) => event.installation_id === installed.id));
  const start = new Date("2026-01-01T00:01:00Z").toISOString();
  const end = new Date("2026-01-01T00:02:00Z").toISOString();
  const window = (await test.admin("GET", `/admin/v1/events?since=${start}&until=${end}`)).json();
  t.same(
    window.items.map((event: { type: string }) => event.type).sort(),
    ["application.created", "application.updated"],
    "since inclusive, until exclusive",
  );

  const pages: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/admin/v1/events?limit=1${cursor ? `&cursor=${cursor}` : ""}`;
    const page = (await test.admin("GET", url)).json();
    pages.push(...page.items.map((event: { id: string }) => event.id));
    cursor = page.next_cursor;
  } while (cursor !== null);
  t.same(pages, ids, "pages of one walk the same list");

  const one = await test.admin("GET", `/admin/v1/events/${ids[0]}`);
  t.equal(one.statusCode, 200);
  t.same(one.json(), all.items[0]);
  const missing = await test.admin("GET", "/admin/v1/events/00000000-0000-7000-8000-000000000000");
  t.equal(missing.statusCode, 404);
  t.match(missing.json(), { statusCode: 404, code: "not_found", error: "Not Found" });

  for (const query of ["type=nope", "since=yesterday", "cursor=not-a-cursor", "limit=0", "colour=red", `since=${end}&until=${start}`]) {
    const res = await test.admin("GET", `/admin/v1/events?${query}`);
    t.equal(res.statusCode, 400, `${query}: 400`);
    t.match(res.json(), { statusCode: 400, code: "invalid_request" });
  }
  t.equal((await test.app.inject({ method: "GET", url: "/admin/v1/events" })).statusCode, 401, "needs the admin token");
});

t.test("the token endpoint's revocations record their events in the same transaction", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test, { app: { webhook_url: "https://app.example/hook" } });

  // A code used twice: token.code_reused, with a webhook delivery (the application has a URL).
  const reused = await eventsOf(test, async () => t.equal((await exchange(test, client, installation.code)).statusCode, 400));
  const codeReused = reused.filter((event) => event.type === "token.code_reused");
  t.equal(codeReused.length, 1, "token.code_reused");
  t.match(codeReused[0], {
    actorType: "client",
    actorId: client.client_id,
    applicationId: client.id,
    installationId: installation.id,
    sourceIp: "127.0.0.1",
  });
  t.match(codeReused[0]!.requestId, /\S/);
  t.match(JSON.parse(codeReused[0]!.data), { revoked: 1 });
  const deliveries = await test.app.domain.db.webhookDelivery.findMany({ where: { eventId: codeReused[0]!.id } });
  t.equal(deliveries.length, 1, "its webhook delivery, in the same transaction");
  t.equal(JSON.parse(deliveries[0]!.payload).type, "token.code_reused");

  // A rotated refresh token reused: token.refresh_reused.
  const second = await setup(test, { app: {} });
  const rotated = await refresh(test, second.client, second.tokens.refresh_token);
  t.equal(rotated.statusCode, 200);
  test.clock.advance(3600);
  const refreshEvents = await eventsOf(test, () => refresh(test, second.client, second.tokens.refresh_token));
  t.same(
    refreshEvents.map((event) => event.type),
    ["token.refresh_reused"],
  );
  t.match(JSON.parse(refreshEvents[0]!.data), { token_id: String, family_id: String, revoked: 2 });
  t.equal(await test.app.domain.db.webhookDelivery.count({ where: { eventId: refreshEvents[0]!.id } }), 0, "no webhook URL: no delivery");

  // A client revoking its own token: token.revoked, once (revoking again changes nothing).
  const third = await setup(test);
  const revoke = () =>
    test.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: { authorization: basic(third.client.client_id, third.client.client_secret!), "content-type": "application/x-www-form-urlencoded" },
      payload: `token=${third.tokens.refresh_token}`,
    });
  const revokedEvents = await eventsOf(test, revoke);
  t.same(
    revokedEvents.map((event) => event.type),
    ["token.revoked"],
  );
  t.match(JSON.parse(revokedEvents[0]!.data), { token_type: "refresh_token", revoked: 1 });
  t.same(await eventsOf(test, revoke), [], "nothing live left: no event");

  remember(test, tokens.access_token, tokens.refresh_token, third.tokens.refresh_token, second.tokens.refresh_token);
  await expectNoSecretInEvents(t, test, issuedSecrets(test));
});

t.test("a failed revocation event rolls the revocation back", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation } = await setup(test);
  // Forbid Event inserts at the database: the token store's event INSERT fails, and so must its UPDATE.
  const prisma = test.app.domain.db;
  const postgres = Boolean(process.env.TEST_DATABASE_URL);
  if (postgres) {
    await prisma.$executeRawUnsafe(`CREATE FUNCTION no_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no events'; END $$`);
    await prisma.$executeRawUnsafe(`CREATE TRIGGER no_events BEFORE INSERT ON "Event" FOR EACH ROW EXECUTE FUNCTION no_events()`);
  } else {
    await prisma.$executeRawUnsafe(`CREATE TRIGGER no_events BEFORE INSERT ON "Event" BEGIN SELECT RAISE(ABORT, 'no events'); END`);
  }
  const res = await exchange(test, client, installation.code);
  t.ok(res.statusCode >= 500, `the reuse could not be recorded: ${res.statusCode}`);
  const live = await prisma.token.count({ where: { installationId: installation.id, revokedAt: null } });
  t.equal(live, 1, "so its revocation was rolled back with it");
});

t.test("client.authentication_locked: once per window when the failure limit first refuses a client and address", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_AUTH_FAILURES: "2", APPGRANT_RATE_LIMIT_WINDOW: "60" });
  const client = await newClient(test);
  const wrong = { client_id: client.client_id, client_secret: `${client.client_secret!.slice(0, -4)}AAAA` };
  const statuses: number[] = [];
  const events = await eventsOf(test, async () => {
    for (let i = 0; i < 5; i++)
      statuses.push((await tokenRequest(test, { grant_type: "refresh_token", refresh_token: "x" }, { client: wrong })).statusCode);
  });
  t.same(statuses, [401, 401, 429, 429, 429]);
  t.same(
    events.map((event) => event.type),
    ["client.authentication_locked"],
    "recorded once",
  );
  t.match(events[0], { actorType: "system", applicationId: client.id, sourceIp: "127.0.0.1" });
  t.match(JSON.parse(events[0]!.data), { client_id: client.client_id, failures: 2, window_seconds: 60 });

  test.clock.advance(61);
  const next = await eventsOf(test, async () => {
    for (let i = 0; i < 4; i++) await tokenRequest(test, { grant_type: "refresh_token", refresh_token: "x" }, { client: wrong });
  });
  t.same(
    next.map((event) => event.type),
    ["client.authentication_locked"],
    "and once in the next window",
  );

  const unknown = await eventsOf(test, async () => {
    for (let i = 0; i < 4; i++)
      await tokenRequest(test, { grant_type: "refresh_token", refresh_token: "x" }, { client: { client_id: "nobody", client_secret: "x" } });
  });
  t.same(unknown, [], "an unknown client_id records nothing");
  await expectNoSecretInEvents(t, test, [client.client_secret!, wrong.client_secret]);
});

t.test("the purge removes events past APPGRANT_EVENT_RETENTION_DAYS, in batches; 0 keeps them", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_EVENT_RETENTION_DAYS: "30" });
  for (let i = 0; i < 5; i++) await createApp(test, { name: `old ${i}` });
  test.clock.advance(20 * 86_400);
  await createApp(test, { name: "recent" });
  test.clock.advance(11 * 86_400);
  const removed = await purgeExpired(test.app.domain, 2);
  t.equal(removed.events, 5, "the five events older than 30 days, two at a time");
  const left = await test.app.domain.db.event.findMany();
  t.same(
    left.map((event) => JSON.parse(event.data).name),
    ["recent"],
  );

  const forever = await buildTestApp(t, { APPGRANT_EVENT_RETENTION_DAYS: "0" });
  await createApp(forever);
  forever.clock.advance(3650 * 86_400);
  t.equal((await purgeExpired(forever.app.domain)).events, 0);
  t.equal(await forever.app.domain.db.event.count(), 1, "0: kept forever");
});
