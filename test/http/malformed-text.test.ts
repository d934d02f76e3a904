// Text that is not text: a NUL byte (PostgreSQL refuses it in a text value) and a lone
// UTF-16 surrogate (no UTF-8 encoding exists for it; JSON's \ud800 escape produces one).
// Each is a client error, answered 400 in the endpoint's own error shape, and changes
// nothing: on either database, in every place the server reads input.
import type { Response as InjectResponse } from "light-my-request";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";
import { basic, expectError, setup, type Setup } from "../support/oauth-helper.js";
import { snapshot } from "../support/state-snapshot.js";

const CALLBACK = "https://app.example/callback";
const ENV = { APPGRANT_CONSENT_URL: "https://platform.example/consent", APPGRANT_ISSUER: "https://auth.example" };

/** The two malformed strings, as they travel: JSON escapes (either), form or query encoding (NUL only). */
const BAD = [
  { name: "a NUL byte", json: "a\\u0000b", form: "a%00b" },
  { name: "a lone surrogate", json: "a\\ud800b", form: null },
  { name: "a lone low surrogate", json: "\\udc00", form: null },
] as const;

async function world(t: Test): Promise<{ test: TestApp; s: Setup }> {
  const test = await buildTestApp(t, ENV);
  const s = await setup(test, { app: { redirect_uris: [CALLBACK] } });
  return { test, s };
}

/** Runs `request`, then checks nothing in the database changed. */
async function unchanged(t: Test, test: TestApp, request: () => Promise<InjectResponse>): Promise<InjectResponse> {
  const before = await snapshot(test);
  const res = await request();
  t.same(await snapshot(test), before, "nothing in the database changed");
  return res;
}

const form = (test: TestApp, url: string, payload: string, headers: Record<string, string> = {}) =>
  test.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
const json = (test: TestApp, url: string, payload: string, headers: Record<string, string> = {}) =>
  test.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

function expectAdminError(t: Test, res: InjectResponse, status: number, field: RegExp): void {
  t.equal(res.statusCode, status, res.body);
  const body = res.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ["code", "error", "message", "request_id", "statusCode"], "the admin error shape");
  t.match(body, { statusCode: status, code: "invalid_request", error: "Bad Request" });
  t.match(body.message, field, "the message names where the bad text is");
}

for (const bad of BAD) {
  t.test(`/oauth/token refuses ${bad.name} in a parameter with invalid_request`, async (t) => {
    const { test, s } = await world(t);
    if (bad.form !== null) {
      for (const payload of [
        `grant_type=authorization_code&code=x&client_id=${bad.form}`,
        `grant_type=refresh_token&refresh_token=${bad.form}&client_id=${s.client.client_id}`,
        `grant_type=${bad.form}`,
      ]) {
        const res = await unchanged(t, test, () => form(test, "/oauth/token", payload));
        t.match(expectError(t, test, res, "invalid_request", 400).error_description, /client_id|refresh_token|grant_type/);
      }
    }
    for (const payload of [
      `{"grant_type":"authorization_code","code":"x","client_id":"${bad.json}"}`,
      `{"grant_type":"refresh_token","refresh_token":"${bad.json}","client_id":"${s.client.client_id}"}`,
      `{"grant_type":"refresh_token","refresh_token":"${s.tokens.refresh_token}","client_id":"${s.client.client_id}","client_secret":"${bad.json}"}`,
    ]) {
      const res = await unchanged(t, test, () => json(test, "/oauth/token", payload));
      t.match(expectError(t, test, res, "invalid_request", 400).error_description, /client_id|refresh_token|client_secret/);
    }
  });

  t.test(`/oauth/revoke and /oauth/introspect refuse ${bad.name} in a parameter`, async (t) => {
    const { test, s } = await world(t);
    const auth = { authorization: basic(s.client.client_id, s.client.client_secret!) };
    for (const url of ["/oauth/revoke", "/oauth/introspect"]) {
      for (const payload of [`{"token":"${bad.json}"}`, `{"token":"${s.tokens.access_token}","token_type_hint":"${bad.json}"}`]) {
        const res = await unchanged(t, test, () => json(test, url, payload, auth));
        expectError(t, test, res, "invalid_request", 400);
      }
      const res = await unchanged(t, test, () => json(test, url, `{"token":"${s.tokens.access_token}","client_id":"${bad.json}"}`));
      expectError(t, test, res, "invalid_request", 400);
    }
  });
}

t.test("HTTP Basic credentials that decode to a NUL are refused as malformed, before any lookup", async (t) => {
  const { test } = await world(t);
  const header = `Basic ${Buffer.from("%00:secret").toString("base64")}`;
  for (const url of ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]) {
    const payload = url === "/oauth/token" ? "grant_type=authorization_code&code=x" : "token=x";
    const res = await unchanged(t, test, () => form(test, url, payload, { authorization: header }));
    t.equal(res.statusCode, 401, `${url}: ${res.body}`);
    t.match(res.json(), { error: "invalid_client", error_description: "malformed HTTP Basic credentials" });
  }
});

t.test("/oauth/authorize answers an error page for a NUL in client_id or redirect_uri (the client is not established)", async (t) => {
  const { test, s } = await world(t);
  for (const query of [
    "response_type=code&client_id=%00",
    `response_type=code&client_id=${s.client.client_id}%00`,
    `response_type=code&client_id=${s.client.client_id}&redirect_uri=${encodeURIComponent(CALLBACK)}%00`,
  ]) {
    const res = await unchanged(t, test, () => test.app.inject({ method: "GET", url: `/oauth/authorize?${query}` }));
    t.equal(res.statusCode, 400, `${query}: ${res.body.slice(0, 200)}`);
    t.match(res.headers["content-type"], /^text\/html/);
    t.equal(res.headers.location, undefined, "no redirect");
    t.match(res.body, /invalid_request/);
  }
});

t.test("/oauth/authorize redirects invalid_request to the client for a NUL in another parameter, and drops a bad state", async (t) => {
  const { test, s } = await world(t);
  const base = `client_id=${s.client.client_id}&redirect_uri=${encodeURIComponent(CALLBACK)}`;
  for (const [query, state] of [
    [`${base}&response_type=code&scope=read%00`, "s1"],
    [`${base}&response_type=code%00`, "s1"],
    [`${base}&response_type=code&code_challenge=%00&code_challenge_method=S256`, "s1"],
    [`${base}&response_type=code`, "%00"],
  ] as const) {
    const res = await unchanged(t, test, () => test.app.inject({ method: "GET", url: `/oauth/authorize?${query}&state=${state}` }));
    t.equal(res.statusCode, 302, res.body);
    const location = new URL(String(res.headers.location));
    t.equal(`${location.origin}${location.pathname}`, CALLBACK);
    t.equal(location.searchParams.get("error"), "invalid_request");
    t.equal(location.searchParams.get("state"), state === "%00" ? null : state, "a malformed state is not sent back");
  }
});

for (const bad of BAD) {
  t.test(`the admin API refuses ${bad.name} in a JSON body with 400 naming the field`, async (t) => {
    const { test, s } = await world(t);
    const admin = (method: "POST" | "PATCH", url: string, payload: string) =>
      test.app.inject({ method, url, payload, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" } });
    const cases: [method: "POST" | "PATCH", url: string, payload: string, field: RegExp][] = [
      ["POST", "/admin/v1/applications", `{"name":"${bad.json}","redirect_uris":["${CALLBACK}"],"scopes":["read"]}`, /body\/name/],
      ["POST", "/admin/v1/applications", `{"name":"n","redirect_uris":["${CALLBACK}${bad.json}"],"scopes":["read"]}`, /body\/redirect_uris\/0/],
      ["POST", "/admin/v1/applications", `{"name":"n","redirect_uris":["${CALLBACK}"],"scopes":["read"],"${bad.json}":1}`, /body/],
      ["PATCH", `/admin/v1/applications/${s.client.id}`, `{"name":"${bad.json}"}`, /body\/name/],
      ["PATCH", `/admin/v1/applications/${s.client.id}`, `{"webhook_url":"https://hooks.example/${bad.json}"}`, /body\/webhook_url/],
      ["POST", "/admin/v1/installations", `{"client_id":"${s.client.client_id}","account":"${bad.json}"}`, /body\/account/],
      ["POST", "/admin/v1/installations", `{"client_id":"${bad.json}","account":"acme"}`, /body\/client_id/],
      ["POST", `/admin/v1/applications/${s.client.id}/secrets`, `{"expires_at":"${bad.json}"}`, /body\/expires_at/],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await unchanged(t, test, () => admin(method, url, payload));
      expectAdminError(t, res, 400, field);
    }
  });
}

t.test("the admin API refuses a NUL in a path or query parameter with 400", async (t) => {
  const { test, s } = await world(t);
  for (const [url, field] of [
    ["/admin/v1/applications/%00", /params\/id/],
    [`/admin/v1/applications/${s.client.id}%00/secrets`, /params\/id/],
    [`/admin/v1/installations/${s.installation.id}%00`, /params\/id/],
    ["/admin/v1/installations?client_id=%00", /querystring\/client_id/],
    ["/admin/v1/installations?account=a%00", /querystring\/account/],
    ["/admin/v1/applications?cursor=%00", /querystring\/cursor/],
    ["/admin/v1/authorization-requests/%00", /params\/id/],
  ] as const) {
    const res = await unchanged(t, test, () => test.admin("GET", url));
    expectAdminError(t, res, 400, field);
  }
  for (const url of [`/admin/v1/applications/${s.client.id}%00`, `/admin/v1/installations/${s.installation.id}%00`]) {
    expectAdminError(t, await unchanged(t, test, () => test.admin("DELETE", url)), 400, /params\/id/);
  }
});
