import t from "tap";
import { isWellFormed, sha256 } from "../../src/crypto/tokens.js";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

function iso(test: TestApp, offsetSeconds = 0): string {
  return new Date(test.clock().getTime() + offsetSeconds * 1000).toISOString();
}

/** A token row as the token endpoint would write it (hashes only), so revocation can be observed. */
async function insertToken(test: TestApp, installationId: string, n: number) {
  const installation = await test.app.domain.db.installation.findUniqueOrThrow({ where: { id: installationId }, include: { application: true } });
  const now = test.clock();
  return test.app.domain.db.token.create({
    data: {
      clientId: installation.application.clientId,
      account: installation.account,
      id: `token-${installationId}-${n}`,
      accessTokenHash: `access-hash-${installationId}-${n}`,
      refreshTokenHash: `refresh-hash-${installationId}-${n}`,
      applicationId: installation.applicationId,
      installationId,
      familyId: `family-${installationId}`,
      generation: n,
      scopes: installation.scopes,
      createdAt: now,
      accessExpiresAt: new Date(now.getTime() + 3600_000),
      refreshExpiresAt: new Date(now.getTime() + 86_400_000),
    },
  });
}

function grantOf(test: TestApp, code: string) {
  return test.app.domain.db.authorizationCode.findUniqueOrThrow({ where: { codeHash: sha256(code) } });
}

t.test("creates an installation with a code that expires after the configured lifetime", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const res = await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" });
  t.equal(res.statusCode, 201);
  const body = res.json();
  t.match(body.code, /^agc_[0-9A-Za-z]{49}$/);
  t.ok(isWellFormed("code", body.code), "the code carries a valid checksum");
  t.equal(body.code_expires_at, iso(test, 600), "code_expires_at = now + 600 s");
  t.match(body, { client_id: app.client_id, account: "acme", status: "active", created_at: iso(test), uninstalled_at: null });
  t.same(body.scopes, ["read", "write"], "scopes default to all the application's scopes");

  const grant = await grantOf(test, body.code);
  t.equal(grant.installationId, body.id, "the code is stored (as its hash) for this installation");
  t.equal(grant.scopes, "read write");
  t.equal(grant.expiresAt.toISOString(), body.code_expires_at);

  const short = await buildTestApp(t, { APPGRANT_CODE_LIFETIME: "120" });
  const shortApp = await createApp(short);
  t.equal((await install(short, shortApp.client_id)).code_expires_at, iso(short, 120), "the lifetime is configurable");
});

t.test("grants a subset of the application's scopes and refuses any scope beyond them", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { scopes: ["read", "write", "admin"] });
  const subset = await install(test, app.client_id, { account: "a1", scopes: ["read"] });
  t.same(subset.scopes, ["read"]);
  t.equal((await grantOf(test, subset.code)).scopes, "read", "the code carries only the granted scopes");

  const cases: { scopes: unknown; named: RegExp }[] = [
    { scopes: ["read", "delete"], named: /scopes.*delete/ },
    { scopes: ["superuser"], named: /scopes.*superuser/ },
    { scopes: [], named: /scopes/ },
    { scopes: ["read", "read"], named: /scopes/ },
  ];
  for (const c of cases) {
    const res = await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "a2", scopes: c.scopes });
    t.equal(res.statusCode, 400, `scopes ${JSON.stringify(c.scopes)} → 400`);
    t.match(res.json(), { statusCode: 400, code: "invalid_request", message: c.named });
  }
  t.equal(await test.app.domain.db.installation.count({ where: { account: "a2" } }), 0, "no refused request created anything");
});

t.test("refuses a malformed installation request and names the field", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const cases: { body: Record<string, unknown>; field: string; status: number }[] = [
    { body: { account: "acme" }, field: "client_id", status: 400 },
    { body: { client_id: app.client_id }, field: "account", status: 400 },
    { body: { client_id: app.client_id, account: "" }, field: "account", status: 400 },
    { body: { client_id: app.client_id, account: "   " }, field: "account", status: 400 },
    { body: { client_id: app.client_id, account: "acme", redirect_uri: "https://x.example" }, field: "redirect_uri", status: 400 },
    { body: { client_id: "no-such-client", account: "acme" }, field: "application", status: 404 },
  ];
  for (const c of cases) {
    const res = await test.admin("POST", "/admin/v1/installations", c.body);
    t.equal(res.statusCode, c.status, `${JSON.stringify(c.body)} → ${c.status}`);
    t.match(res.json().message, c.field);
  }
  t.equal(await test.app.domain.db.installation.count(), 0);
});

t.test("refuses a second active installation of one app in an account", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const other = await createApp(test);
  const first = await install(test, app.client_id, { account: "acme" });

  const again = await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" });
  t.equal(again.statusCode, 409);
  t.match(again.json(), { statusCode: 409, code: "conflict", error: "Conflict", message: /acme/ });

  t.ok(await install(test, app.client_id, { account: "globex" }), "the same app in another account is fine");
  t.ok(await install(test, other.client_id, { account: "acme" }), "another app in the same account is fine");

  t.equal((await test.admin("DELETE", `/admin/v1/installations/${first.id}`)).statusCode, 204);
  const reinstalled = await install(test, app.client_id, { account: "acme" });
  t.not(reinstalled.id, first.id, "after uninstall a new installation in that account works");
  t.equal(reinstalled.status, "active");
  t.equal((await test.admin("GET", `/admin/v1/installations/${first.id}`)).json().status, "uninstalled", "the old one stays uninstalled");
  t.equal(
    (await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" })).statusCode,
    409,
    "and the new one is again the only active one",
  );
});

t.test("adds redirect_to only when the application has exactly one redirect URI", async (t) => {
  const cases: { name: string; redirect_uris: string[]; base: string | null; kept?: Record<string, string> }[] = [
    { name: "one redirect URI", redirect_uris: ["https://app.example/setup"], base: "https://app.example/setup" },
    {
      name: "one redirect URI with a query",
      redirect_uris: ["https://app.example/setup?tenant=eu&x=1"],
      base: "https://app.example/setup",
      kept: { tenant: "eu", x: "1" },
    },
    { name: "two redirect URIs", redirect_uris: ["https://a.example/cb", "https://b.example/cb"], base: null },
  ];
  const test = await buildTestApp(t);
  for (const c of cases) {
    const app = await createApp(test, { redirect_uris: c.redirect_uris });
    const created = await install(test, app.client_id, { account: "team a&b" });
    if (c.base === null) {
      t.notOk("redirect_to" in created, `${c.name}: no redirect_to`);
      continue;
    }
    const url = new URL(created.redirect_to as string);
    t.equal(`${url.origin}${url.pathname}`, c.base, `${c.name}: the registered URI`);
    t.match(
      Object.fromEntries(url.searchParams),
      { ...c.kept, code: created.code, installation_id: created.id, account: "team a&b" },
      `${c.name}: carries code, installation_id and account${c.kept ? ", keeping the existing query" : ""}`,
    );
    t.equal(url.searchParams.getAll("code").length, 1, `${c.name}: one code parameter`);
    t.equal(url.hash, "");
  }
});

t.test("GET shows code_expires_at while the code is pending and never the code", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const created = await install(test, app.client_id);

  const pending = await test.admin("GET", `/admin/v1/installations/${created.id}`);
  t.equal(pending.statusCode, 200);
  t.equal(pending.json().code_expires_at, created.code_expires_at);
  t.notOk("code" in pending.json(), "no code field");
  t.notMatch(pending.body, created.code);
  t.match(pending.json(), { id: created.id, client_id: app.client_id, account: "acme", status: "active", scopes: ["read", "write"] });

  test.clock.advance(599);
  t.equal(
    (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json().code_expires_at,
    created.code_expires_at,
    "still shown 1 s before expiry",
  );

  test.clock.advance(2);
  const expired = await test.admin("GET", `/admin/v1/installations/${created.id}`);
  t.equal(expired.statusCode, 200);
  t.notOk("code_expires_at" in expired.json(), "gone once the code has expired");
  t.notOk("code" in expired.json());

  const listed = await test.admin("GET", "/admin/v1/installations");
  t.notMatch(listed.body, created.code, "the list never shows the code either");
  t.notOk("code" in listed.json().items[0]);

  t.equal((await test.admin("GET", "/admin/v1/installations/nope")).statusCode, 404);
});

t.test("GET hides code_expires_at once the code is exchanged", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const created = await install(test, app.client_id);
  // What the token endpoint does when it consumes the code.
  await test.app.domain.db.authorizationCode.update({ where: { codeHash: sha256(created.code) }, data: { consumedAt: test.clock() } });
  t.notOk("code_expires_at" in (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json());
});

t.test("lists installations filtered by client_id, account and status, with cursor pagination", async (t) => {
  const test = await buildTestApp(t);
  const alpha = await createApp(test, { name: "alpha" });
  const beta = await createApp(test, { name: "beta" });
  const made: Record<string, { id: string }> = {};
  for (const [key, app, account] of [
    ["alpha-acme", alpha, "acme"],
    ["alpha-globex", alpha, "globex"],
    ["alpha-initech", alpha, "initech"],
    ["beta-acme", beta, "acme"],
    ["beta-globex", beta, "globex"],
  ] as const) {
    made[key] = await install(test, app.client_id, { account });
    test.clock.advance(1);
  }
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${made["alpha-globex"]!.id}`)).statusCode, 204);

  const idsOf = async (query: string) => {
    const res = await test.admin("GET", `/admin/v1/installations${query}`);
    t.equal(res.statusCode, 200, query);
    return res.json().items.map((i: { id: string }) => Object.keys(made).find((k) => made[k]!.id === i.id));
  };
  const cases: [string, string[]][] = [
    ["", ["alpha-acme", "alpha-globex", "alpha-initech", "beta-acme", "beta-globex"]],
    [`?client_id=${alpha.client_id}`, ["alpha-acme", "alpha-globex", "alpha-initech"]],
    ["?account=acme", ["alpha-acme", "beta-acme"]],
    ["?status=uninstalled", ["alpha-globex"]],
    ["?status=active", ["alpha-acme", "alpha-initech", "beta-acme", "beta-globex"]],
    [`?client_id=${beta.client_id}&account=globex`, ["beta-globex"]],
    [`?client_id=${alpha.client_id}&account=globex&status=active`, []],
    ["?account=nobody", []],
    ["?client_id=no-such-client", []],
  ];
  for (const [query, expected] of cases) t.same(await idsOf(query), expected, `filter ${query || "(none)"}`);

  const page1 = (await test.admin("GET", "/admin/v1/installations?status=active&limit=3")).json();
  t.equal(page1.items.length, 3);
  t.type(page1.next_cursor, "string");
  const page2 = (await test.admin("GET", `/admin/v1/installations?status=active&limit=3&cursor=${page1.next_cursor}`)).json();
  t.equal(page2.next_cursor, null);
  t.same(
    [...page1.items, ...page2.items].map((i: { id: string }) => i.id),
    ["alpha-acme", "alpha-initech", "beta-acme", "beta-globex"].map((k) => made[k]!.id),
    "the pages of a filtered list cover it once, in order",
  );

  for (const bad of ["status=deleted", "limit=0", "colour=red"]) {
    t.equal((await test.admin("GET", `/admin/v1/installations?${bad}`)).statusCode, 400, `${bad} → 400`);
  }
});

t.test("uninstalling revokes the pending code and every token of the installation", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const created = await install(test, app.client_id, { account: "acme" });
  const neighbour = await install(test, app.client_id, { account: "globex" });
  await insertToken(test, created.id, 1);
  await insertToken(test, created.id, 2);
  await insertToken(test, neighbour.id, 1);
  const db = test.app.domain.db;
  // A token already revoked for another reason keeps its first revocation.
  const earlier = new Date(test.clock().getTime() - 1000);
  await db.token.update({ where: { id: `token-${created.id}-2` }, data: { revokedAt: earlier, revokedReason: "refresh_reused" } });

  test.clock.advance(30);
  const res = await test.admin("DELETE", `/admin/v1/installations/${created.id}`);
  t.equal(res.statusCode, 204);
  t.equal(res.body, "");

  const shown = (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json();
  t.equal(shown.status, "uninstalled");
  t.equal(shown.uninstalled_at, iso(test));
  t.notOk("code_expires_at" in shown, "an uninstalled installation has no pending code");

  const grant = await grantOf(test, created.code);
  t.equal(grant.revokedAt?.toISOString(), iso(test), "the pending code is revoked");
  const token1 = await db.token.findUniqueOrThrow({ where: { id: `token-${created.id}-1` } });
  t.equal(token1.revokedAt?.toISOString(), iso(test), "the live token is revoked");
  t.equal(token1.revokedReason, "uninstalled");
  const token2 = await db.token.findUniqueOrThrow({ where: { id: `token-${created.id}-2` } });
  t.same([token2.revokedAt, token2.revokedReason], [earlier, "refresh_reused"], "an earlier revocation is kept");

  const neighbourToken = await db.token.findUniqueOrThrow({ where: { id: `token-${neighbour.id}-1` } });
  t.equal(neighbourToken.revokedAt, null, "another installation's token is untouched");
  t.equal((await grantOf(test, neighbour.code)).revokedAt, null, "another installation's code is untouched");

  test.clock.advance(30);
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${created.id}`)).statusCode, 204, "uninstalling twice is harmless");
  t.equal((await test.admin("GET", `/admin/v1/installations/${created.id}`)).json().uninstalled_at, shown.uninstalled_at, "and keeps the first time");
  t.equal((await test.admin("DELETE", "/admin/v1/installations/nope")).statusCode, 404);
});

t.test("POST /installations/{id}/code reissues a code and revokes the old one", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const created = await install(test, app.client_id, { scopes: ["read"] });
  test.clock.advance(120);

  const res = await test.admin("POST", `/admin/v1/installations/${created.id}/code`);
  t.equal(res.statusCode, 201);
  const reissued = res.json();
  t.ok(isWellFormed("code", reissued.code));
  t.not(reissued.code, created.code, "a new code");
  t.equal(reissued.code_expires_at, iso(test, 600), "expiring 600 s after the reissue");
  t.match(reissued, { id: created.id, status: "active", scopes: ["read"] });

  t.equal((await grantOf(test, created.code)).revokedAt?.toISOString(), iso(test), "the old code's grant is revoked");
  const fresh = await grantOf(test, reissued.code);
  t.same([fresh.revokedAt, fresh.scopes], [null, "read"], "the new code is live with the installation's scopes");
  const shown = (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json();
  t.equal(shown.code_expires_at, reissued.code_expires_at, "GET shows the new code's expiry");

  test.clock.advance(601);
  t.notOk("code_expires_at" in (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json());
  const afterExpiry = (await test.admin("POST", `/admin/v1/installations/${created.id}/code`)).json();
  t.equal(
    (await test.admin("GET", `/admin/v1/installations/${created.id}`)).json().code_expires_at,
    afterExpiry.code_expires_at,
    "a code can be reissued after the last one expired",
  );

  t.equal((await test.admin("DELETE", `/admin/v1/installations/${created.id}`)).statusCode, 204);
  const refused = await test.admin("POST", `/admin/v1/installations/${created.id}/code`);
  t.equal(refused.statusCode, 409, "no code for an uninstalled installation");
  t.match(refused.json(), { code: "conflict", message: /uninstalled/ });
  t.equal(await test.app.domain.db.authorizationCode.count({ where: { installationId: created.id, revokedAt: null, consumedAt: null } }), 0);
  t.equal((await test.admin("POST", "/admin/v1/installations/nope/code")).statusCode, 404);
});

t.test("concurrent installations of one app in one account: exactly one succeeds", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const results = await Promise.all(
    Array.from({ length: 4 }, () => test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" })),
  );
  t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409]);
  t.equal(await test.app.domain.db.installation.count({ where: { account: "acme", status: "active" } }), 1);
});
