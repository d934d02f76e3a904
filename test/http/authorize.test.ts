// GET /oauth/authorize (headless) and the consent side of it, the admin API's
// authorization-requests: RFC 6749 §4.1 with the §4.1.2.1 error rules, RFC 9207 iss,
// and the single-use, ten-minute life of a pending request.
import { createHash, randomBytes } from "node:crypto";
import type { Response as InjectResponse } from "light-my-request";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, type TestApp } from "../support/helper.js";

const ISSUER = "https://auth.example";
const CONSENT = "https://platform.example/consent";
const CALLBACK = "https://app.example/callback";
const OTHER_CALLBACK = "https://app.example/other";
const ENV = { APPGRANT_CONSENT_URL: CONSENT, APPGRANT_ISSUER: ISSUER };

type Params = Record<string, string> | [string, string][];

const pkcePair = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

function authorize(test: TestApp, params: Params): Promise<InjectResponse> {
  return test.app.inject({ method: "GET", url: `/oauth/authorize?${new URLSearchParams(params).toString()}` });
}

/** The request_id of a successful authorize response, after checking it went to the consent page. */
function requestId(t: Test, res: InjectResponse): string {
  t.equal(res.statusCode, 302, `redirected to the consent page (${res.statusCode} ${res.body.slice(0, 200)})`);
  const location = new URL(String(res.headers.location));
  t.equal(`${location.origin}${location.pathname}`, CONSENT, "to APPGRANT_CONSENT_URL");
  const id = location.searchParams.get("request_id");
  if (id === null) throw new Error(`no request_id in ${location}`);
  return id;
}

const path = (id: string, action = "") => `/admin/v1/authorization-requests/${encodeURIComponent(id)}${action}`;
const accept = (test: TestApp, id: string, body: Record<string, unknown> = { account: "acme" }) => test.admin("POST", path(id, "/accept"), body);
const reject = (test: TestApp, id: string) => test.admin("POST", path(id, "/reject"));

/** Authorizes (confidential client, redirect_uri and state sent) and returns the pending request's id. */
async function pending(t: Test, test: TestApp, clientId: string, extra: Record<string, string> = {}): Promise<string> {
  return requestId(t, await authorize(test, { response_type: "code", client_id: clientId, redirect_uri: CALLBACK, state: "s-1", ...extra }));
}

function redirectTarget(res: InjectResponse): URL {
  if (res.statusCode !== 200) throw new Error(`expected 200 {redirect_to}, got ${res.statusCode} ${res.body}`);
  return new URL(res.json().redirect_to);
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

function exchange(test: TestApp, client: { client_id: string; client_secret: string | null }, code: string, extra: Record<string, string> = {}) {
  const params: Record<string, string> = { grant_type: "authorization_code", code, ...extra };
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (client.client_secret) headers.authorization = basic(client.client_id, client.client_secret);
  else params.client_id = client.client_id;
  return test.app.inject({ method: "POST", url: "/oauth/token", headers, payload: new URLSearchParams(params).toString() });
}

const storedRequests = (test: TestApp) => test.app.domain.db.authorizationRequest.count();

// ---------------------------------------------------------------------------
// Error page: the client or its redirect_uri is not established, so no redirect.

const HOSTILE = `"><script>alert(1)</script>`;

const pageCases: { name: string; params: (clientId: string) => Params }[] = [
  { name: "no client_id", params: () => ({ response_type: "code", redirect_uri: CALLBACK, state: HOSTILE }) },
  { name: "an unknown client_id", params: () => ({ response_type: "code", client_id: HOSTILE, redirect_uri: CALLBACK, state: HOSTILE }) },
  {
    name: "an unregistered redirect_uri",
    params: (id) => ({ response_type: "code", client_id: id, redirect_uri: `https://evil.example/cb?x=${HOSTILE}`, state: HOSTILE }),
  },
  {
    name: "a registered redirect_uri plus a trailing slash",
    params: (id) => ({ response_type: "code", client_id: id, redirect_uri: `${CALLBACK}/` }),
  },
  { name: "a registered redirect_uri plus a query", params: (id) => ({ response_type: "code", client_id: id, redirect_uri: `${CALLBACK}?next=1` }) },
  {
    name: "a registered redirect_uri in other letter case",
    params: (id) => ({ response_type: "code", client_id: id, redirect_uri: CALLBACK.toUpperCase() }),
  },
  { name: "no redirect_uri while two are registered", params: (id) => ({ response_type: "code", client_id: id, state: HOSTILE }) },
  {
    name: "a repeated client_id",
    params: (id) => [
      ["response_type", "code"],
      ["client_id", id],
      ["client_id", id],
      ["redirect_uri", CALLBACK],
    ],
  },
  {
    name: "a repeated redirect_uri (even with equal values)",
    params: (id) => [
      ["response_type", "code"],
      ["client_id", id],
      ["redirect_uri", CALLBACK],
      ["redirect_uri", CALLBACK],
    ],
  },
];

for (const c of pageCases) {
  t.test(`answers an HTML error page, never a redirect, for ${c.name}`, async (t) => {
    const test = await buildTestApp(t, ENV);
    const client = await createApp(test, { redirect_uris: [CALLBACK, OTHER_CALLBACK] });
    const res = await authorize(test, c.params(client.client_id));
    t.equal(res.statusCode, 400);
    t.match(res.headers["content-type"], /^text\/html/);
    t.equal(res.headers.location, undefined, "no Location header");
    t.match(res.body, /<html/i);
    t.notMatch(res.body, /<script/i, "no markup from the request reaches the page");
    t.notOk(res.body.includes(HOSTILE), "the request's values are not echoed raw");
    t.notOk(res.body.includes("evil.example"), "the refused redirect_uri is not turned into a link");
    t.equal(await storedRequests(test), 0, "nothing is stored");
  });
}

t.test("the error page escapes what it shows", async (t) => {
  // The page shows an error code and a description; a repeated parameter is named.
  // None of that is raw request text, but the escaping must hold for all of it: a
  // parameter name chosen by the server is the only request-derived text shown.
  const test = await buildTestApp(t, ENV);
  const res = await authorize(test, [
    ["client_id", "a"],
    ["client_id", "<b>"],
  ]);
  t.equal(res.statusCode, 400);
  t.match(res.body, /client_id/, "the repeated parameter is named");
  t.notMatch(res.body, /<b>/, "the values are not shown");
  const page = res.body.replace(/<\/?(!doctype|html|head|meta|title|body|h1|p|code)\b[^>]*>/gi, "");
  t.notMatch(page, /[<>]/, "no other markup than the page's own");
});

// ---------------------------------------------------------------------------
// Redirect errors: the client and redirect_uri are known, the rest is reported to the client.

interface RedirectCase {
  name: string;
  error: string;
  params: (clientId: string) => Params;
  app?: Record<string, unknown>;
  /** Applied with the database before the request (what the admin API cannot set). */
  before?: (test: TestApp, clientId: string) => Promise<unknown>;
  /** The state the client should get back (undefined: none). */
  state?: string | undefined;
}

const base = (id: string) => ({ client_id: id, redirect_uri: CALLBACK, state: "xyz" });
const goodPkce = pkcePair();

const redirectCases: RedirectCase[] = [
  { name: "response_type is missing", error: "invalid_request", params: base, state: "xyz" },
  {
    name: "response_type=token (implicit)",
    error: "unsupported_response_type",
    params: (id) => ({ ...base(id), response_type: "token" }),
    state: "xyz",
  },
  {
    name: "response_type=code id_token",
    error: "unsupported_response_type",
    params: (id) => ({ ...base(id), response_type: "code id_token" }),
    state: "xyz",
  },
  {
    name: "a scope the client may not use",
    error: "invalid_scope",
    params: (id) => ({ ...base(id), response_type: "code", scope: "admin" }),
    state: "xyz",
  },
  {
    name: "one allowed and one unknown scope",
    error: "invalid_scope",
    params: (id) => ({ ...base(id), response_type: "code", scope: "read admin" }),
    state: "xyz",
  },
  {
    name: "code_challenge_method=plain",
    error: "invalid_request",
    params: (id) => ({ ...base(id), response_type: "code", code_challenge: goodPkce.verifier, code_challenge_method: "plain" }),
    state: "xyz",
  },
  {
    name: "a code_challenge without a method (plain by default)",
    error: "invalid_request",
    params: (id) => ({ ...base(id), response_type: "code", code_challenge: goodPkce.challenge }),
    state: "xyz",
  },
  {
    name: "a malformed code_challenge (too short)",
    error: "invalid_request",
    params: (id) => ({ ...base(id), response_type: "code", code_challenge: "abc", code_challenge_method: "S256" }),
    state: "xyz",
  },
  {
    name: "a malformed code_challenge (characters outside the unreserved set)",
    error: "invalid_request",
    params: (id) => ({ ...base(id), response_type: "code", code_challenge: `${goodPkce.challenge.slice(0, 42)}+/=`, code_challenge_method: "S256" }),
    state: "xyz",
  },
  {
    name: "a code_challenge_method without a code_challenge",
    error: "invalid_request",
    params: (id) => ({ ...base(id), response_type: "code", code_challenge_method: "S256" }),
    state: "xyz",
  },
  {
    name: "a public client without PKCE",
    error: "invalid_request",
    app: { client_type: "public" },
    params: (id) => ({ ...base(id), response_type: "code" }),
    state: "xyz",
  },
  {
    name: "a repeated state",
    error: "invalid_request",
    params: (id) => [
      ["response_type", "code"],
      ["client_id", id],
      ["redirect_uri", CALLBACK],
      ["state", "xyz"],
      ["state", "abc"],
    ],
    state: undefined,
  },
  {
    name: "a repeated scope",
    error: "invalid_request",
    params: (id) => [
      ["response_type", "code"],
      ["client_id", id],
      ["redirect_uri", CALLBACK],
      ["state", "xyz"],
      ["scope", "read"],
      ["scope", "read"],
    ],
    state: "xyz",
  },
  {
    name: "a repeated response_type",
    error: "invalid_request",
    params: (id) => [
      ["response_type", "code"],
      ["response_type", "code"],
      ["client_id", id],
      ["redirect_uri", CALLBACK],
      ["state", "xyz"],
    ],
    state: "xyz",
  },
  {
    name: "a client whose grant types exclude authorization_code",
    error: "unauthorized_client",
    params: (id) => ({ ...base(id), response_type: "code" }),
    before: (test, clientId) => test.app.domain.db.application.update({ where: { clientId }, data: { grantTypes: "refresh_token" } }),
    state: "xyz",
  },
];

for (const c of redirectCases) {
  t.test(`redirects ${c.error} to the client, with state and iss, for ${c.name}`, async (t) => {
    const test = await buildTestApp(t, ENV);
    const client = await createApp(test, { redirect_uris: [CALLBACK, OTHER_CALLBACK], ...c.app });
    await c.before?.(test, client.client_id);
    const res = await authorize(test, c.params(client.client_id));
    t.equal(res.statusCode, 302, res.body);
    const location = new URL(String(res.headers.location));
    t.equal(`${location.origin}${location.pathname}`, CALLBACK, "back to the client's redirect_uri");
    t.equal(location.searchParams.get("error"), c.error);
    t.type(location.searchParams.get("error_description"), "string");
    t.equal(location.searchParams.get("state") ?? undefined, c.state, "state as the client sent it");
    t.equal(location.searchParams.get("iss"), ISSUER, "iss (RFC 9207)");
    t.notOk(location.searchParams.has("code"), "no code");
    t.notOk(location.searchParams.has("request_id"), "not sent to the consent page");
    t.equal(await storedRequests(test), 0, "nothing is stored");
  });
}

t.test("a redirected error keeps the query of the registered redirect_uri", async (t) => {
  const test = await buildTestApp(t, ENV);
  const registered = "https://app.example/cb?tenant=7";
  const client = await createApp(test, { redirect_uris: [registered] });
  const res = await authorize(test, { client_id: client.client_id, response_type: "token", state: "a b&c=d" });
  const location = new URL(String(res.headers.location));
  t.equal(location.searchParams.get("tenant"), "7");
  t.equal(location.searchParams.get("error"), "unsupported_response_type");
  t.equal(location.searchParams.get("state"), "a b&c=d", "state survives encoding");
});

// ---------------------------------------------------------------------------
// Success: a pending request and a redirect to the consent page.

t.test("a valid request is stored and the browser goes to the consent page with request_id only", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { name: "Deploy Bot", redirect_uris: [CALLBACK, OTHER_CALLBACK], scopes: ["read", "write", "admin"] });
  const res = await authorize(test, {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: OTHER_CALLBACK,
    scope: "write read",
    state: "s",
  });
  const id = requestId(t, res);
  t.same([...new URL(String(res.headers.location)).searchParams.keys()], ["request_id"], "nothing of the request leaks into the consent URL");
  t.equal(res.headers["cache-control"], "no-store");

  const got = await test.admin("GET", path(id));
  t.equal(got.statusCode, 200);
  const body = got.json();
  t.same(Object.keys(body).sort(), ["application", "client_id", "expires_at", "id", "redirect_uri", "scopes", "status"]);
  t.equal(body.id, id);
  t.equal(body.client_id, client.client_id);
  t.same(body.application, { name: "Deploy Bot" });
  t.same([...body.scopes].sort(), ["read", "write"], "the requested scopes, not all the client's");
  t.equal(body.redirect_uri, OTHER_CALLBACK);
  t.equal(body.status, "pending");
  t.equal(new Date(body.expires_at).getTime(), test.clock().getTime() + 600_000, "expires in 10 minutes");
});

t.test("without scope the request asks for every scope of the client", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { scopes: ["read", "write", "admin"] });
  const id = await pending(t, test, client.client_id);
  t.same([...(await test.admin("GET", path(id))).json().scopes].sort(), ["admin", "read", "write"]);
});

t.test("the consent URL keeps its own query", async (t) => {
  const test = await buildTestApp(t, { ...ENV, APPGRANT_CONSENT_URL: `${CONSENT}?tenant=acme` });
  const client = await createApp(test);
  const res = await authorize(test, { response_type: "code", client_id: client.client_id });
  const location = new URL(String(res.headers.location));
  t.equal(location.searchParams.get("tenant"), "acme");
  t.match(location.searchParams.get("request_id"), /\S/);
});

t.test("redirect_uri omitted with one registered: the request uses it and the code needs no redirect_uri", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { redirect_uris: [CALLBACK] });
  const id = requestId(t, await authorize(test, { response_type: "code", client_id: client.client_id, state: "st" }));
  t.equal((await test.admin("GET", path(id))).json().redirect_uri, CALLBACK);
  const target = redirectTarget(await accept(test, id));
  t.equal(`${target.origin}${target.pathname}`, CALLBACK);
  const res = await exchange(test, client, target.searchParams.get("code")!);
  t.equal(res.statusCode, 200, `exchanged without redirect_uri (${res.body})`);
});

t.test("a code from a request that sent redirect_uri requires the identical redirect_uri", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { redirect_uris: [CALLBACK, OTHER_CALLBACK] });
  const id = await pending(t, test, client.client_id);
  const code = redirectTarget(await accept(test, id)).searchParams.get("code")!;

  for (const [name, extra] of [
    ["without redirect_uri", {}],
    ["with another registered redirect_uri", { redirect_uri: OTHER_CALLBACK }],
    ["with a trailing slash", { redirect_uri: `${CALLBACK}/` }],
  ] as const) {
    const res = await exchange(test, client, code, extra);
    t.equal(res.statusCode, 400, name);
    t.equal(res.json().error, "invalid_grant", name);
  }
  const res = await exchange(test, client, code, { redirect_uri: CALLBACK });
  t.equal(res.statusCode, 200, `the identical redirect_uri is accepted, the code unspent by the refusals (${res.body})`);
});

t.test("without APPGRANT_CONSENT_URL the endpoint answers a 503 page", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_ISSUER: ISSUER });
  const client = await createApp(test);
  const res = await authorize(test, { response_type: "code", client_id: client.client_id, redirect_uri: CALLBACK });
  t.equal(res.statusCode, 503);
  t.match(res.headers["content-type"], /^text\/html/);
  t.equal(res.headers.location, undefined);
  t.match(res.body, /APPGRANT_CONSENT_URL/, "the operator is told what to set");
  t.equal(await storedRequests(test), 0);
});

// ---------------------------------------------------------------------------
// The consent side: the admin API answers a pending request once.

t.test("accept redirects to the client with code, state and iss, and the code is exchangeable", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = await pending(t, test, client.client_id, { state: "state with spaces & symbols", scope: "read" });
  const res = await accept(test, id, { account: "acme" });
  t.same(Object.keys(res.json()), ["redirect_to"]);
  const target = redirectTarget(res);
  t.equal(`${target.origin}${target.pathname}`, CALLBACK);
  t.match(target.searchParams.get("code"), /\S{20,}/);
  t.equal(target.searchParams.get("state"), "state with spaces & symbols");
  t.equal(target.searchParams.get("iss"), ISSUER);
  t.equal((await test.admin("GET", path(id))).json().status, "accepted");

  const tokens = await exchange(test, client, target.searchParams.get("code")!, { redirect_uri: CALLBACK });
  t.equal(tokens.statusCode, 200, tokens.body);
  t.equal(tokens.json().scope, "read");
  const installations = (await test.admin("GET", `/admin/v1/installations?client_id=${client.client_id}`)).json().items;
  t.equal(installations.length, 1);
  t.equal(tokens.json().installation_id, installations[0].id, "the tokens belong to the installation accept created");
  t.equal(installations[0].account, "acme");
});

t.test("a request without state gets no state back", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = requestId(t, await authorize(test, { response_type: "code", client_id: client.client_id }));
  const target = redirectTarget(await accept(test, id));
  t.notOk(target.searchParams.has("state"));
  t.equal(target.searchParams.get("iss"), ISSUER);
});

t.test("accept may narrow the scopes; the code carries only those", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = await pending(t, test, client.client_id, { scope: "read write" });
  const code = redirectTarget(await accept(test, id, { account: "acme", scopes: ["write"] })).searchParams.get("code")!;
  const tokens = await exchange(test, client, code, { redirect_uri: CALLBACK });
  t.equal(tokens.json().scope, "write");
});

t.test("a second accept for the same account reuses the active installation and widens its scopes", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { scopes: ["read", "write", "admin"] });
  const first = redirectTarget(await accept(test, await pending(t, test, client.client_id, { scope: "read" })));
  const second = redirectTarget(await accept(test, await pending(t, test, client.client_id, { scope: "write" })));
  t.not(first.searchParams.get("code"), second.searchParams.get("code"), "each accept issues its own code");

  const list = (await test.admin("GET", `/admin/v1/installations?client_id=${client.client_id}&status=active`)).json().items;
  t.equal(list.length, 1, "exactly one active installation");
  t.same([...list[0].scopes].sort(), ["read", "write"], "scopes widened to both consents");

  const tokens = await exchange(test, client, second.searchParams.get("code")!, { redirect_uri: CALLBACK });
  t.equal(tokens.json().installation_id, list[0].id);
  t.equal(tokens.json().scope, "write", "the second code carries what was consented the second time");

  // Another account gets its own installation.
  redirectTarget(await accept(test, await pending(t, test, client.client_id), { account: "globex" }));
  const all = (await test.admin("GET", `/admin/v1/installations?client_id=${client.client_id}`)).json().items;
  t.same(all.map((i: { account: string }) => i.account).sort(), ["acme", "globex"]);
});

t.test("reject redirects with access_denied, state and iss, and installs nothing", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = await pending(t, test, client.client_id, { state: "s-42" });
  const target = redirectTarget(await reject(test, id));
  t.equal(`${target.origin}${target.pathname}`, CALLBACK);
  t.equal(target.searchParams.get("error"), "access_denied");
  t.equal(target.searchParams.get("state"), "s-42");
  t.equal(target.searchParams.get("iss"), ISSUER);
  t.notOk(target.searchParams.has("code"));
  t.equal((await test.admin("GET", path(id))).json().status, "rejected");
  t.equal((await test.admin("GET", "/admin/v1/installations")).json().items.length, 0);
});

for (const [firstName, secondName] of [
  ["accept", "accept"],
  ["accept", "reject"],
  ["reject", "accept"],
  ["reject", "reject"],
] as const) {
  t.test(`a request answered by ${firstName} cannot be answered again by ${secondName} (409)`, async (t) => {
    const test = await buildTestApp(t, ENV);
    const client = await createApp(test);
    const id = await pending(t, test, client.client_id);
    const answer = (name: "accept" | "reject") => (name === "accept" ? accept(test, id, { account: "acme" }) : reject(test, id));
    t.equal((await answer(firstName)).statusCode, 200);
    const again = await answer(secondName);
    t.equal(again.statusCode, 409, again.body);
    t.equal(again.json().code, "conflict");
    t.equal((await test.admin("GET", path(id))).json().status, firstName === "accept" ? "accepted" : "rejected", "the first answer stands");
  });
}

t.test("a pending request expires after 10 minutes", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const early = await pending(t, test, client.client_id);
  const late = await pending(t, test, client.client_id);
  const lateReject = await pending(t, test, client.client_id);
  test.clock.advance(599);
  t.equal((await accept(test, early)).statusCode, 200, "still answerable at 9:59");
  test.clock.advance(2);
  const res = await accept(test, late);
  t.equal(res.statusCode, 409, "accept after 10:01");
  t.match(res.json().message, /expired/);
  t.equal((await reject(test, lateReject)).statusCode, 409, "reject after 10:01");
  t.equal((await test.admin("GET", "/admin/v1/installations")).json().items.length, 1, "the late accept installed nothing");
});

t.test("an unknown request id answers 404", async (t) => {
  const test = await buildTestApp(t, ENV);
  for (const res of [await test.admin("GET", path("nope")), await accept(test, "nope"), await reject(test, "nope")]) {
    t.equal(res.statusCode, 404);
    t.equal(res.json().code, "not_found");
  }
});

t.test("accept with scopes outside those requested answers 400 and leaves the request pending", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { scopes: ["read", "write", "admin"] });
  const id = await pending(t, test, client.client_id, { scope: "read" });
  for (const scopes of [["write"], ["read", "admin"], ["unknown"]]) {
    const res = await accept(test, id, { account: "acme", scopes });
    t.equal(res.statusCode, 400, `${scopes.join(" ")}: ${res.body}`);
    t.equal(res.json().code, "invalid_request");
  }
  t.equal((await test.admin("GET", path(id))).json().status, "pending");
  t.equal((await test.admin("GET", "/admin/v1/installations")).json().items.length, 0);
  t.equal((await accept(test, id, { account: "acme", scopes: ["read"] })).statusCode, 200, "a valid answer still works");
});

t.test("accept validates its body", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = await pending(t, test, client.client_id);
  for (const body of [{}, { account: "" }, { account: "   " }, { account: "acme", extra: 1 }, { account: "acme", scopes: [] }]) {
    t.equal((await accept(test, id, body)).statusCode, 400, JSON.stringify(body));
  }
  t.equal((await test.admin("GET", path(id))).json().status, "pending");
});

t.test("the authorization-requests API requires the admin token", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const id = await pending(t, test, client.client_id);
  for (const headers of [{}, { authorization: `Bearer ${ADMIN_TOKEN}x` }, { authorization: `Basic ${ADMIN_TOKEN}` }]) {
    for (const [method, url] of [
      ["GET", path(id)],
      ["POST", path(id, "/accept")],
      ["POST", path(id, "/reject")],
    ] as const) {
      const res = await test.app.inject({ method, url, headers, ...(method === "POST" ? { payload: { account: "acme" } } : {}) });
      t.equal(res.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers).slice(0, 30)}`);
    }
  }
  t.equal((await test.admin("GET", path(id))).json().status, "pending", "nothing was answered");
});

t.test("accept refuses (409) a suspended installation and scopes the application lost since the request", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { scopes: ["read", "write"] });
  redirectTarget(await accept(test, await pending(t, test, client.client_id, { scope: "read" })));
  const installationId = (await test.admin("GET", "/admin/v1/installations")).json().items[0].id as string;
  t.equal((await test.admin("POST", `/admin/v1/installations/${installationId}/suspend`, {})).statusCode, 200);
  const onSuspended = await pending(t, test, client.client_id, { scope: "read" });
  const refused = await accept(test, onSuspended);
  t.equal(refused.statusCode, 409, refused.body);
  t.match(refused.body, /suspended/);
  t.equal(await test.app.domain.db.authorizationCode.count(), 1, "no code issued for it");
  t.equal((await test.admin("POST", `/admin/v1/installations/${installationId}/unsuspend`, {})).statusCode, 200);
  t.equal((await accept(test, onSuspended)).statusCode, 200, "refused, it was not answered: accepted once unsuspended");

  const asksWrite = await pending(t, test, client.client_id, { scope: "write" });
  t.equal((await test.admin("PATCH", `/admin/v1/applications/${client.id}`, { scopes: ["read"] })).statusCode, 200);
  const withdrawn = await accept(test, asksWrite);
  t.equal(withdrawn.statusCode, 409, withdrawn.body);
  t.match(withdrawn.body, /no longer allowed for this application: write/);
});
