// The admin API's smaller guarantees: JSON bodies only (a form is 415, whatever the
// root context parses), no response that carries a secret may be cached, and deleting
// an application's last working client secret takes an explicit force=true.
import type { Response as InjectResponse } from "light-my-request";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { snapshot } from "../support/state-snapshot.js";

const CALLBACK = "https://app.example/callback";
const ENV = { APPGRANT_CONSENT_URL: "https://platform.example/consent", APPGRANT_ISSUER: "https://auth.example" };

const raw = (test: TestApp, method: "POST" | "PATCH", url: string, contentType: string, payload: string) =>
  test.app.inject({ method, url, payload, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": contentType } });

t.test("the admin API refuses form and text bodies with 415 in its shape, and changes nothing", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const installation = await install(test, app.client_id);
  const cases: [method: "POST" | "PATCH", url: string, form: string][] = [
    ["POST", "/admin/v1/applications", `name=x&redirect_uris=${encodeURIComponent(CALLBACK)}&scopes=read`],
    ["PATCH", `/admin/v1/applications/${app.id}`, "name=renamed"],
    ["POST", `/admin/v1/applications/${app.id}/secrets`, "expires_at=2030-01-01T00:00:00Z"],
    ["POST", `/admin/v1/applications/${app.id}/webhook-secret`, "x=1"],
    ["POST", "/admin/v1/installations", `client_id=${app.client_id}&account=other`],
    ["POST", `/admin/v1/installations/${installation.id}/code`, "x=1"],
  ];
  const before = await snapshot(test);
  for (const [method, url, form] of cases) {
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const res = await raw(test, method, url, type, form);
      t.equal(res.statusCode, 415, `${method} ${url} as ${type}: ${res.body}`);
      t.same(res.json(), {
        statusCode: 415,
        code: "invalid_request",
        error: "Unsupported Media Type",
        message: res.json().message,
        request_id: res.headers["x-request-id"],
      });
    }
  }
  t.same(await snapshot(test), before, "nothing was created, renamed, rotated or issued");
  const json = await raw(test, "PATCH", `/admin/v1/applications/${app.id}`, "application/json; charset=utf-8", '{"name":"renamed"}');
  t.equal(json.statusCode, 200, "JSON (with a charset) still works");
});

function expectNoStore(t: Test, res: InjectResponse, what: string): void {
  t.equal(res.headers["cache-control"], "no-store", `${what}: Cache-Control: no-store`);
  t.equal(res.headers.pragma, "no-cache", `${what}: Pragma: no-cache`);
}

t.test("every admin response that carries a secret or a code is marked no-store", async (t) => {
  const test = await buildTestApp(t, ENV);
  const created = await test.admin("POST", "/admin/v1/applications", { name: "A", redirect_uris: [CALLBACK], scopes: ["read"] });
  t.equal(created.statusCode, 201);
  expectNoStore(t, created, "application creation (client_secret, webhook_secret)");
  const app = created.json() as { id: string; client_id: string };

  const secret = await test.admin("POST", `/admin/v1/applications/${app.id}/secrets`, {});
  t.equal(secret.statusCode, 201);
  expectNoStore(t, secret, "new client secret");
  const webhook = await test.admin("POST", `/admin/v1/applications/${app.id}/webhook-secret`);
  t.equal(webhook.statusCode, 201);
  expectNoStore(t, webhook, "webhook secret rotation");

  const installed = await test.admin("POST", "/admin/v1/installations", { client_id: app.client_id, account: "acme" });
  t.equal(installed.statusCode, 201);
  expectNoStore(t, installed, "installation (code, redirect_to)");
  const reissued = await test.admin("POST", `/admin/v1/installations/${installed.json().id}/code`);
  t.equal(reissued.statusCode, 201);
  expectNoStore(t, reissued, "reissued code");

  const authorize = await test.app.inject({ method: "GET", url: `/oauth/authorize?response_type=code&client_id=${app.client_id}&state=s` });
  const requestId = new URL(String(authorize.headers.location)).searchParams.get("request_id")!;
  const accepted = await test.admin("POST", `/admin/v1/authorization-requests/${requestId}/accept`, { account: "globex" });
  t.equal(accepted.statusCode, 200);
  t.match(accepted.json().redirect_to, /[?&]code=/, "the accept answer carries a code");
  expectNoStore(t, accepted, "authorization request accepted (redirect_to with code)");

  // And what carries none is not cacheable either: it is the admin token holder's private data.
  expectNoStore(t, await test.admin("GET", `/admin/v1/applications/${app.id}`), "an application");
  expectNoStore(t, await test.admin("GET", "/admin/v1/nothing"), "an error");
});

interface Secrets {
  test: TestApp;
  appId: string;
  ids: string[];
}

/** An application with its first secret and, optionally, more (with the given expiries, seconds from now). */
async function withSecrets(t: Test, extra: (number | null)[] = []): Promise<Secrets> {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  for (const seconds of extra) {
    const expires_at = seconds === null ? undefined : new Date(test.clock().getTime() + seconds * 1000).toISOString();
    const res = await test.admin("POST", `/admin/v1/applications/${app.id}/secrets`, expires_at ? { expires_at } : {});
    if (res.statusCode !== 201) throw new Error(res.body);
  }
  const list = (await test.admin("GET", `/admin/v1/applications/${app.id}/secrets`)).json().items as { id: string }[];
  return { test, appId: app.id, ids: list.map((s) => s.id) };
}

const del = (s: Secrets, secretId: string, query = "") => s.test.admin("DELETE", `/admin/v1/applications/${s.appId}/secrets/${secretId}${query}`);

t.test("deleting the only client secret is refused (409) unless force=true", async (t) => {
  const s = await withSecrets(t);
  const before = await snapshot(s.test);
  for (const query of ["", "?force=false"]) {
    const refused = await del(s, s.ids[0]!, query);
    t.equal(refused.statusCode, 409, refused.body);
    t.match(refused.json(), { statusCode: 409, code: "conflict", error: "Conflict" });
    t.match(refused.json().message, /last.*force=true/, "the message says why and how to insist");
  }
  t.equal((await del(s, s.ids[0]!, "?force=yes")).statusCode, 400, "force is a boolean");
  t.same(await snapshot(s.test), before, "the secret is still there");
  t.equal((await del(s, s.ids[0]!, "?force=true")).statusCode, 204, "force=true deletes it");
  t.equal(await s.test.app.domain.db.clientSecret.count(), 0);
});

t.test("with two active secrets one can go without force, then the other is the last", async (t) => {
  const s = await withSecrets(t, [null]);
  t.equal((await del(s, s.ids[0]!)).statusCode, 204);
  t.equal((await del(s, s.ids[1]!)).statusCode, 409);
});

t.test("a secret that would leave only expired ones is the last working one; an expired one can always go", async (t) => {
  const s = await withSecrets(t, [60]);
  s.test.clock.advance(120);
  // ids[1] has expired: deleting it leaves the working ids[0].
  t.equal((await del(s, s.ids[0]!)).statusCode, 409, "deleting the only unexpired secret needs force");
  t.equal((await del(s, s.ids[1]!)).statusCode, 204, "the expired one goes without force");
  t.equal((await del(s, s.ids[0]!, "?force=true")).statusCode, 204);
});

t.test("two concurrent deletions of the two active secrets cannot leave none", async (t) => {
  const s = await withSecrets(t, [null]);
  const results = await Promise.all(s.ids.map((id) => del(s, id)));
  t.same(results.map((r) => r.statusCode).sort(), [204, 409], results.map((r) => r.body).join(" | "));
  t.equal(await s.test.app.domain.db.clientSecret.count(), 1, "one secret is left");
});

t.test("a public client has no secret to delete: 404 as before", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { client_type: "public" });
  t.equal((await test.admin("DELETE", `/admin/v1/applications/${app.id}/secrets/nope`)).statusCode, 404);
});
