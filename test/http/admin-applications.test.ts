import t from "tap";
import { isWellFormed, PREFIXES } from "../../src/crypto/tokens.js";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

const SECRET_PATTERN = /^ags_[0-9A-Za-z]{49}$/;
/** Credentials of every secret kind (client secrets, and any *Secret kind added later). */
const SECRET_KINDS = Object.entries(PREFIXES).flatMap(([kind, prefix]) => (kind.endsWith("Secret") ? [prefix] : []));
const secretsIn = (text: string) => [...text.matchAll(new RegExp(`(?:${SECRET_KINDS.join("|")})[0-9A-Za-z]{49}`, "g"))].map((m) => m[0]);

function iso(test: TestApp, offsetSeconds = 0): string {
  return new Date(test.clock().getTime() + offsetSeconds * 1000).toISOString();
}

/** A token row as the token endpoint would write it (only hashes), so deletion and revocation can be observed. */
async function insertToken(test: TestApp, applicationId: string, installationId: string, n = 1) {
  const now = test.clock();
  const installation = await test.app.domain.db.installation.findUniqueOrThrow({ where: { id: installationId }, include: { application: true } });
  return test.app.domain.db.token.create({
    data: {
      clientId: installation.application.clientId,
      account: installation.account,
      id: `token-${installationId}-${n}`,
      accessTokenHash: `access-hash-${installationId}-${n}`,
      refreshTokenHash: `refresh-hash-${installationId}-${n}`,
      applicationId,
      installationId,
      familyId: `family-${installationId}`,
      generation: 1,
      scopes: "read",
      createdAt: now,
      accessExpiresAt: new Date(now.getTime() + 3600_000),
      refreshExpiresAt: new Date(now.getTime() + 86_400_000),
    },
  });
}

t.test("creates a confidential application and returns its secret exactly once", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test, { webhook_url: "https://app.example/hook" });
  t.match(created.client_secret, SECRET_PATTERN);
  t.ok(isWellFormed("clientSecret", created.client_secret!), "the secret carries a valid checksum");
  t.equal(created.client_type, "confidential");
  t.same(created.scopes, ["read", "write"]);
  t.same(created.redirect_uris, ["https://app.example/callback"]);
  t.equal(created.webhook_url, "https://app.example/hook");
  t.equal(created.name, "Test App");
  t.equal(created.created_at, iso(test), "created_at comes from the app's clock");
  t.equal(created.updated_at, iso(test));

  const rows = await test.app.domain.db.clientSecret.findMany({ where: { applicationId: created.id } });
  t.equal(rows.length, 1, "one secret row is stored");
  t.not(rows[0]!.secretHash, created.client_secret, "the stored value is not the secret");

  const shown = await test.admin("GET", `/admin/v1/applications/${created.id}`);
  t.equal(shown.statusCode, 200);
  t.notOk("client_secret" in shown.json(), "GET never returns the secret");
  t.notMatch(shown.body, created.client_secret!);
  const listed = await test.admin("GET", "/admin/v1/applications");
  t.notMatch(listed.body, created.client_secret!);
});

t.test("creates a public application with no secret at all", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test, { client_type: "public" });
  t.equal(created.client_type, "public");
  t.equal(created.client_secret, null);
  t.equal(await test.app.domain.db.clientSecret.count({ where: { applicationId: created.id } }), 0, "no ClientSecret row");
  const secrets = await test.admin("GET", `/admin/v1/applications/${created.id}/secrets`);
  t.same(secrets.json().items, []);
  const add = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {});
  t.equal(add.statusCode, 409, "a public client cannot be given a secret");
  t.equal(add.json().code, "conflict");
});

t.test("gives every application a distinct client_id and secret", async (t) => {
  const test = await buildTestApp(t);
  const a = await createApp(test);
  const b = await createApp(test);
  t.not(a.id, b.id);
  t.not(a.client_id, b.client_id);
  t.not(a.client_secret, b.client_secret);
});

t.test("names the offending field on schema failure", async (t) => {
  const test = await buildTestApp(t);
  const missing = await test.admin("POST", "/admin/v1/applications", { name: "x", scopes: ["read"] });
  t.equal(missing.statusCode, 400);
  t.match(missing.json(), { statusCode: 400, code: "invalid_request", error: "Bad Request", message: /redirect_uris/ });
  const unknown = await test.admin("POST", "/admin/v1/applications", {
    name: "x",
    scopes: ["read"],
    redirect_uris: ["https://a.example/cb"],
    redirect_uri: "x",
  });
  t.equal(unknown.statusCode, 400);
  t.match(unknown.json().message, /redirect_uri/);
  t.equal(await test.app.domain.db.application.count(), 0, "nothing was created by the refused requests");
});

t.test("validates redirect_uris, scopes, webhook_url and client_type on create", async (t) => {
  const cases: { name: string; body: Record<string, unknown>; status: number; field?: string }[] = [
    { name: "https redirect URI", body: { redirect_uris: ["https://app.example/cb"] }, status: 201 },
    { name: "http on localhost", body: { redirect_uris: ["http://localhost:8080/cb"] }, status: 201 },
    { name: "http on 127.0.0.1", body: { redirect_uris: ["http://127.0.0.1/cb"] }, status: 201 },
    { name: "http on [::1]", body: { redirect_uris: ["http://[::1]:3000/cb"] }, status: 201 },
    { name: "private-use scheme of a native app", body: { redirect_uris: ["com.example.app:/oauth"] }, status: 201 },
    { name: "redirect URI with a query", body: { redirect_uris: ["https://app.example/cb?tenant=1"] }, status: 201 },
    { name: "several redirect URIs", body: { redirect_uris: ["https://a.example/cb", "https://b.example/cb"] }, status: 201 },
    { name: "http on a public host", body: { redirect_uris: ["http://app.example/cb"] }, status: 400, field: "redirect_uris" },
    { name: "a fragment", body: { redirect_uris: ["https://app.example/cb#frag"] }, status: 400, field: "redirect_uris" },
    { name: "an empty fragment", body: { redirect_uris: ["https://app.example/cb#"] }, status: 400, field: "redirect_uris" },
    { name: "a relative URI", body: { redirect_uris: ["/callback"] }, status: 400, field: "redirect_uris" },
    { name: "a javascript: URI", body: { redirect_uris: ["javascript:alert(1)"] }, status: 400, field: "redirect_uris" },
    { name: "credentials in the URI", body: { redirect_uris: ["https://user:pw@app.example/cb"] }, status: 400, field: "redirect_uris" },
    { name: "whitespace in the URI", body: { redirect_uris: ["https://app.example/a b"] }, status: 400, field: "redirect_uris" },
    { name: "no redirect URI", body: { redirect_uris: [] }, status: 400, field: "redirect_uris" },
    {
      name: "a duplicated redirect URI",
      body: { redirect_uris: ["https://a.example/cb", "https://a.example/cb"] },
      status: 400,
      field: "redirect_uris",
    },
    { name: "a redirect URI that is not a string", body: { redirect_uris: [42] }, status: 400, field: "redirect_uris" },
    { name: "scopes with colons and dots", body: { scopes: ["repo:read", "org.admin"] }, status: 201 },
    { name: "no scope", body: { scopes: [] }, status: 400, field: "scopes" },
    { name: "a scope with a space", body: { scopes: ["read write"] }, status: 400, field: "scopes" },
    { name: "a scope with a double quote", body: { scopes: ['re"ad'] }, status: 400, field: "scopes" },
    { name: "a scope with a backslash", body: { scopes: ["re\\ad"] }, status: 400, field: "scopes" },
    { name: "a non-ASCII scope", body: { scopes: ["lécture"] }, status: 400, field: "scopes" },
    { name: "a duplicated scope", body: { scopes: ["read", "read"] }, status: 400, field: "scopes" },
    { name: "https webhook", body: { webhook_url: "https://app.example/hook" }, status: 201 },
    { name: "null webhook", body: { webhook_url: null }, status: 201 },
    { name: "http webhook on a public host", body: { webhook_url: "http://app.example/hook" }, status: 400, field: "webhook_url" },
    { name: "relative webhook", body: { webhook_url: "/hook" }, status: 400, field: "webhook_url" },
    { name: "unknown client_type", body: { client_type: "hybrid" }, status: 400, field: "client_type" },
    { name: "blank name", body: { name: "   " }, status: 400, field: "name" },
    { name: "empty name", body: { name: "" }, status: 400, field: "name" },
  ];
  const test = await buildTestApp(t);
  for (const c of cases) {
    const res = await test.admin("POST", "/admin/v1/applications", {
      name: "App",
      redirect_uris: ["https://app.example/cb"],
      scopes: ["read"],
      client_type: "public", // no argon2 hashing: keeps the table fast
      ...c.body,
    });
    t.equal(res.statusCode, c.status, `${c.name} → ${c.status}`);
    if (c.status === 400) {
      t.match(res.json(), { statusCode: 400, code: "invalid_request", error: "Bad Request" }, `${c.name}: admin error shape`);
      t.match(res.json().message, c.field!, `${c.name}: the message names ${c.field}`);
    } else {
      const shown = await test.admin("GET", `/admin/v1/applications/${res.json().id}`);
      for (const [key, value] of Object.entries(c.body)) t.same(shown.json()[key], value, `${c.name}: ${key} is stored as sent`);
    }
  }
});

t.test("lists applications with cursor pagination, without overlap", async (t) => {
  const test = await buildTestApp(t);
  const created = [];
  for (const name of ["first", "second", "third"]) {
    created.push(await createApp(test, { name }));
    test.clock.advance(1);
  }
  const first = await test.admin("GET", "/admin/v1/applications?limit=2");
  t.equal(first.statusCode, 200);
  const page1 = first.json();
  t.same(
    page1.items.map((a: { name: string }) => a.name),
    ["first", "second"],
    "the first page holds the two oldest, in creation order",
  );
  t.type(page1.next_cursor, "string");

  const second = await test.admin("GET", `/admin/v1/applications?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`);
  const page2 = second.json();
  t.same(
    page2.items.map((a: { name: string }) => a.name),
    ["third"],
    "the second page has the rest",
  );
  t.equal(page2.next_cursor, null, "the last page has no next cursor");

  const ids = [...page1.items, ...page2.items].map((a: { id: string }) => a.id);
  t.same(
    ids,
    created.map((a) => a.id),
    "together the pages list every application exactly once",
  );
  t.notMatch(first.body + second.body, /client_secret|ags_/, "the list never carries secrets");

  const exact = await test.admin("GET", "/admin/v1/applications?limit=3");
  t.equal(exact.json().items.length, 3);
  t.equal(exact.json().next_cursor, null, "no next cursor when the page holds exactly the remaining items");

  for (const bad of ["limit=0", "limit=201", "limit=abc", "unknown=1"]) {
    const res = await test.admin("GET", `/admin/v1/applications?${bad}`);
    t.equal(res.statusCode, 400, `${bad} is refused`);
  }
});

t.test("answers 404 in the admin shape for an unknown application", async (t) => {
  const test = await buildTestApp(t);
  for (const [method, url, body] of [
    ["GET", "/admin/v1/applications/nope", undefined],
    ["PATCH", "/admin/v1/applications/nope", { name: "x" }],
    ["DELETE", "/admin/v1/applications/nope", undefined],
    ["GET", "/admin/v1/applications/nope/secrets", undefined],
    ["POST", "/admin/v1/applications/nope/secrets", {}],
  ] as const) {
    const res = await test.admin(method, url, body);
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.match(res.json(), { statusCode: 404, code: "not_found", error: "Not Found", message: /application/ });
  }
});

t.test("PATCH changes the given fields and moves updated_at with the clock", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test, { webhook_url: "https://app.example/hook" });
  test.clock.advance(90);
  const res = await test.admin("PATCH", `/admin/v1/applications/${created.id}`, {
    name: "Renamed",
    redirect_uris: ["https://new.example/cb", "http://localhost:4000/cb"],
    scopes: ["read", "admin"],
  });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.name, "Renamed");
  t.same(body.redirect_uris, ["https://new.example/cb", "http://localhost:4000/cb"]);
  t.same(body.scopes, ["read", "admin"]);
  t.equal(body.webhook_url, "https://app.example/hook", "a field not sent is kept");
  t.equal(body.created_at, created.created_at, "created_at does not move");
  t.equal(body.updated_at, iso(test), "updated_at is the clock's time of the update");
  t.not(body.updated_at, created.updated_at);
  t.equal(body.client_id, created.client_id);
  t.notOk("client_secret" in body, "PATCH does not return the secret");

  const shown = (await test.admin("GET", `/admin/v1/applications/${created.id}`)).json();
  t.same(shown, body, "the change is persisted");

  const cleared = await test.admin("PATCH", `/admin/v1/applications/${created.id}`, { webhook_url: null });
  t.equal(cleared.json().webhook_url, null, "webhook_url: null clears it");
});

t.test("PATCH refuses invalid changes and keeps the application as it was", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  const before = (await test.admin("GET", `/admin/v1/applications/${created.id}`)).json();
  test.clock.advance(10);
  const cases: { name: string; body: Record<string, unknown>; field: string }[] = [
    { name: "unknown field", body: { colour: "blue" }, field: "colour" },
    { name: "client_type cannot change", body: { client_type: "public" }, field: "client_type" },
    { name: "http on a public host", body: { redirect_uris: ["http://app.example/cb"] }, field: "redirect_uris" },
    { name: "a fragment", body: { redirect_uris: ["https://app.example/cb#x"] }, field: "redirect_uris" },
    { name: "a relative URI", body: { redirect_uris: ["cb"] }, field: "redirect_uris" },
    { name: "no redirect URI", body: { redirect_uris: [] }, field: "redirect_uris" },
    { name: "an invalid scope", body: { scopes: ["a\\b"] }, field: "scopes" },
    { name: "blank name", body: { name: " " }, field: "name" },
    { name: "an empty body", body: {}, field: "body" },
  ];
  for (const c of cases) {
    const res = await test.admin("PATCH", `/admin/v1/applications/${created.id}`, c.body);
    t.equal(res.statusCode, 400, `${c.name} → 400`);
    t.match(res.json(), { statusCode: 400, code: "invalid_request", message: c.field }, `${c.name}: names ${c.field}`);
  }
  const after = (await test.admin("GET", `/admin/v1/applications/${created.id}`)).json();
  t.same(after, before, "no refused PATCH changed anything, not even updated_at");
});

t.test("DELETE removes the application with its secrets, installations, codes and tokens", async (t) => {
  const test = await buildTestApp(t);
  const doomed = await createApp(test);
  const kept = await createApp(test, { name: "Kept" });
  const inst = await install(test, doomed.client_id);
  await insertToken(test, doomed.id, inst.id);
  const keptInst = await install(test, kept.client_id);
  await insertToken(test, kept.id, keptInst.id);
  const db = test.app.domain.db;

  const res = await test.admin("DELETE", `/admin/v1/applications/${doomed.id}`);
  t.equal(res.statusCode, 204);
  t.equal(res.body, "");
  t.equal((await test.admin("GET", `/admin/v1/applications/${doomed.id}`)).statusCode, 404);
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${doomed.id}`)).statusCode, 404, "a second DELETE is 404");
  t.equal((await test.admin("GET", `/admin/v1/installations/${inst.id}`)).statusCode, 404, "its installation is gone");

  const where = { applicationId: doomed.id };
  t.equal(await db.clientSecret.count({ where }), 0, "secrets gone");
  t.equal(await db.installation.count({ where }), 0, "installations gone");
  t.equal(await db.authorizationCode.count({ where }), 0, "codes gone");
  t.equal(await db.token.count({ where }), 0, "tokens gone");

  const other = { applicationId: kept.id };
  t.equal(await db.clientSecret.count({ where: other }), 1, "another application's secret is untouched");
  t.equal(await db.installation.count({ where: other }), 1, "another application's installation is untouched");
  t.equal(await db.authorizationCode.count({ where: other }), 1);
  const keptToken = await db.token.findFirstOrThrow({ where: other });
  t.equal(keptToken.revokedAt, null, "another application's token is not revoked");
});

t.test("POST /secrets issues a new secret once, and at most two are active", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  test.clock.advance(5);
  const res = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {});
  t.equal(res.statusCode, 201);
  const added = res.json();
  t.match(added.client_secret, SECRET_PATTERN);
  t.ok(isWellFormed("clientSecret", added.client_secret));
  t.not(added.client_secret, created.client_secret, "a new secret, not the first one again");
  t.match(added, { active: true, expires_at: null, created_at: iso(test) });
  t.type(added.id, "string");

  const third = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {});
  t.equal(third.statusCode, 409, "a third active secret is refused");
  t.match(third.json(), { statusCode: 409, code: "conflict", error: "Conflict", message: /2 active secrets/ });
  t.equal(await test.app.domain.db.clientSecret.count({ where: { applicationId: created.id } }), 2, "no third row was stored");

  const noBody = await test.app.inject({
    method: "POST",
    url: `/admin/v1/applications/${created.id}/secrets`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  t.equal(noBody.statusCode, 409, "a request without a body reaches the same limit");
});

t.test("an expired secret does not count toward the two active secrets", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  const expiring = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, { expires_at: iso(test, 60) });
  t.equal(expiring.statusCode, 201);
  t.equal(expiring.json().expires_at, iso(test, 60));
  t.equal((await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {})).statusCode, 409, "two active: full");

  test.clock.advance(59);
  t.equal((await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {})).statusCode, 409, "still active 1 s before expiry");

  test.clock.advance(1);
  const listed: { id: string; active: boolean }[] = (await test.admin("GET", `/admin/v1/applications/${created.id}/secrets`)).json().items;
  t.same(
    Object.fromEntries(listed.map((s) => [s.id === expiring.json().id ? "expiring" : "first", s.active])),
    { first: true, expiring: false },
    "the list marks the expired secret inactive",
  );
  const replacement = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {});
  t.equal(replacement.statusCode, 201, "the expired secret left room for a new one");
  t.equal((await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {})).statusCode, 409, "two active again");
});

t.test("refuses a secret expiry that is not in the future or not a date-time", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  for (const expires_at of [iso(test), iso(test, -1), "tomorrow", "2026-13-01T00:00:00Z"]) {
    const res = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, { expires_at });
    t.equal(res.statusCode, 400, `expires_at ${expires_at} → 400`);
    t.match(res.json().message, /expires_at/);
  }
  const unknown = await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, { client_secret: "mine" });
  t.equal(unknown.statusCode, 400, "a caller cannot choose the secret");
  t.equal(await test.app.domain.db.clientSecret.count({ where: { applicationId: created.id } }), 1);
});

t.test("DELETE of a secret answers 204 then 404, and only for its own application", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  const other = await createApp(test);
  const [first] = (await test.admin("GET", `/admin/v1/applications/${created.id}/secrets`)).json().items;

  const wrongApp = await test.admin("DELETE", `/admin/v1/applications/${other.id}/secrets/${first.id}`);
  t.equal(wrongApp.statusCode, 404, "a secret cannot be deleted through another application");
  t.match(wrongApp.json(), { code: "not_found", message: /secret/ });

  // Its only secret: deleting it takes force=true (test/http/admin-hardening.test.ts).
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${created.id}/secrets/${first.id}?force=true`)).statusCode, 204);
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${created.id}/secrets/${first.id}?force=true`)).statusCode, 404);
  t.same((await test.admin("GET", `/admin/v1/applications/${created.id}/secrets`)).json().items, []);
  t.equal(await test.app.domain.db.clientSecret.count({ where: { applicationId: other.id } }), 1, "the other application keeps its secret");

  t.equal((await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {})).statusCode, 201);
  t.equal((await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {})).statusCode, 201, "deleting made room for two");
});

t.test("GET /secrets lists metadata only, never secret material", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  test.clock.advance(1);
  const added = (await test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, { expires_at: iso(test, 3600) })).json();
  const res = await test.admin("GET", `/admin/v1/applications/${created.id}/secrets`);
  t.equal(res.statusCode, 200);
  const items = res.json().items;
  t.equal(items.length, 2);
  for (const item of items) t.same(Object.keys(item).sort(), ["active", "compromised_at", "created_at", "expires_at", "id"]);
  t.equal(items[1].id, added.id, "oldest first");
  t.notMatch(res.body, created.client_secret!);
  t.notMatch(res.body, added.client_secret);
  t.notMatch(res.body, /\$argon2/, "not even the hash");
});

t.test("no issued secret appears in any later response", async (t) => {
  const test = await buildTestApp(t);
  const a = await createApp(test, { webhook_url: "https://app.example/hook" });
  const b = await createApp(test, { client_type: "public" });
  const added = await test.admin("POST", `/admin/v1/applications/${a.id}/secrets`, {});
  // Every secret the creation responses carried (client secrets, and any other kind they hand out once).
  const issued = [...new Set([JSON.stringify(a), JSON.stringify(b), added.body].flatMap(secretsIn))];
  t.ok(issued.includes(a.client_secret!) && issued.includes(added.json().client_secret), `${issued.length} secrets issued`);
  const inst = await install(test, a.client_id);
  test.clock.advance(30);

  const requests: [string, string, unknown?][] = [
    ["GET", "/admin/v1/applications"],
    ["GET", `/admin/v1/applications/${a.id}`],
    ["GET", `/admin/v1/applications/${b.id}`],
    ["GET", `/admin/v1/applications/${a.id}/secrets`],
    ["PATCH", `/admin/v1/applications/${a.id}`, { name: "Renamed" }],
    ["POST", `/admin/v1/applications/${a.id}/secrets`, {}], // 409: the limit
    ["GET", "/admin/v1/installations"],
    ["GET", `/admin/v1/installations/${inst.id}`],
    ["POST", `/admin/v1/installations/${inst.id}/code`],
    ["DELETE", `/admin/v1/applications/${a.id}/secrets/${added.json().id}`],
    ["GET", `/admin/v1/applications/${a.id}/secrets`],
  ];
  for (const [method, url, body] of requests) {
    const res = await test.admin(method as "GET", url, body);
    t.ok(res.statusCode < 500, `${res.statusCode} for ${method} ${url}`);
    for (const secret of issued) t.notOk(res.body.includes(secret), `${method} ${url} does not show a secret issued earlier`);
    t.same(secretsIn(res.body), [], `${method} ${url}: nothing shaped like a secret`);
  }
});

t.test("two concurrent secret additions cannot make three active secrets", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test);
  const results = await Promise.all([
    test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {}),
    test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {}),
    test.admin("POST", `/admin/v1/applications/${created.id}/secrets`, {}),
  ]);
  t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409], "exactly one succeeds");
  t.equal(await test.app.domain.db.clientSecret.count({ where: { applicationId: created.id } }), 2);
});
