// A generated corpus of malformed requests for every route the server registers (read
// from its route tree, so a new route is fuzzed without a change here), property-based
// with fast-check: hostile strings (NUL, lone surrogates, huge, percent-encoding gone
// wrong, path traversal) in path parameters, queries, bodies and headers, deep and
// ill-typed JSON, repeated parameters, odd content types and methods. Properties:
//  - no answer is a 5xx, and every error comes in the shape of its endpoint;
//  - nothing changes: every request carries at least one defect the endpoint must refuse
//    (or none where nothing can change: read-only routes, and the OAuth endpoints given
//    another client's tokens), and a whole-database snapshot (with real applications,
//    installations, token pairs and a pending authorization request present) is identical
//    after each route's corpus.
// Fixed seed by default (CI, a few seconds per database); APPGRANT_FUZZ_RUNS=<runs per
// route> (default 100) and APPGRANT_FUZZ_SEED=<n> for longer or other runs (then raise tap's
// --timeout: 2000 runs take a few minutes). A failure prints the shrunk request and the seed.
import { STATUS_CODES } from "node:http";
import fc from "fast-check";
import type { Response as InjectResponse } from "light-my-request";
import t from "tap";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";
import { basic, setup } from "../support/oauth-helper.js";
import { snapshot } from "../support/state-snapshot.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";

const RUNS = Number(process.env.APPGRANT_FUZZ_RUNS ?? 100);
const SEED = Number(process.env.APPGRANT_FUZZ_SEED ?? 20260108);
const CALLBACK = "https://app.example/callback";
const ENV = {
  APPGRANT_CONSENT_URL: "https://platform.example/consent",
  APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device",
  APPGRANT_ISSUER: "https://auth.example",
  // The limits stay on (their keys are built from hostile client ids) but never refuse, so the
  // corpus reaches the code behind them.
  APPGRANT_RATE_LIMIT_PER_IP: "10000000",
  APPGRANT_RATE_LIMIT_PER_CLIENT: "10000000",
  APPGRANT_RATE_LIMIT_AUTH_FAILURES: "10000000",
  APPGRANT_DEVICE_LOOKUP_FAILURES: "10000000",
  LOG_LEVEL: "warn",
};

interface Route {
  method: string;
  path: string;
}

/** Every (method, path) of the router, from its own printout (HEAD twins of GET routes left out). */
function routesOf(test: TestApp): Route[] {
  const routes: Route[] = [];
  const pathAtDepth: string[] = [];
  for (const line of test.app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \((-|[A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (depth > 0 ? pathAtDepth[depth - 1]! : "") + match[2]!;
    pathAtDepth[depth] = path;
    for (const method of match[3] === undefined || match[3] === "-" ? [] : match[3].split(", ")) {
      if (method !== "HEAD") routes.push({ method, path });
    }
  }
  return routes;
}

// ---------------------------------------------------------------------------
// Strings

const BAD_CHARS = ["\u0000", "\ud800", "\udbff", "\udc00", "\udfff"] as const;
/** Text the server must refuse wherever it reads it: a NUL or a lone surrogate among ASCII. */
const badText = fc.tuple(fc.string({ maxLength: 12 }), fc.constantFrom(...BAD_CHARS), fc.string({ maxLength: 12 })).map((p) => p.join(""));
/** A NUL only: what form and query encoding can carry. */
const nulText = fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([a, b]) => `${a}\u0000${b}`);
const oddText = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as it is
  fc.constantFrom("", " ", "..", "../../etc/passwd", "..%2f..%2f", "%00", "%zz", "%", "%%", "%ED%A0%80", "<script>x</script>", "' OR 1=1 --", "${x}"),
  fc.constantFrom("__proto__", "constructor", "prototype", "null", "undefined", "NaN", "-1", "1e400", "\u202e", "\u{1F600}", "\ufeff"),
  fc.nat({ max: 6000 }).map((n) => "a".repeat(n)),
);
const anyText = fc.oneof({ arbitrary: oddText, weight: 4 }, { arbitrary: badText, weight: 1 });

/** Percent-encoding that keeps a lone surrogate (as the CESU-8 bytes a careless client would send). */
function pct(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0xd800 || code > 0xdfff) out += encodeURIComponent(char);
    else out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join("");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Requests

interface Req {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

interface Fixture {
  values: Record<string, string[]>;
  /** A valid request's parameters per route ("METHOD path"), which the corpus mutates: only the defect added to them is wrong. */
  templates: Record<string, Record<string, unknown>>;
  /**
   * For the OAuth POST endpoints, parameters that go deep (a real client, real tokens) and
   * still cannot change anything without a defect: the tokens are the confidential client's,
   * whose secret the corpus never has, presented by the public client.
   */
  deepTemplates: Record<string, Record<string, unknown>>;
  /** Public identifiers and credentials of the fixture the corpus may mix in (never a client secret). */
  known: string[];
  methodsAt: Map<string, Set<string>>;
}

const QUERY_NAMES = [
  "client_id",
  "redirect_uri",
  "response_type",
  "scope",
  "state",
  "code_challenge",
  "code_challenge_method",
  "limit",
  "cursor",
  "account",
  "status",
  "force",
  "id",
];
const BODY_NAMES = [
  "grant_type",
  "client_id",
  "client_secret",
  "code",
  "refresh_token",
  "redirect_uri",
  "code_verifier",
  "scope",
  "token",
  "token_type_hint",
  "name",
  "redirect_uris",
  "scopes",
  "webhook_url",
  "client_type",
  "account",
  "expires_at",
];
/** Parameters each OAuth endpoint always reads (so a bad value there must be refused). */
const OAUTH_READS: Record<string, string[]> = {
  "/oauth/token": ["grant_type", "client_id", "client_secret"],
  "/oauth/revoke": ["token", "token_type_hint", "client_id", "client_secret"],
  "/oauth/introspect": ["token", "token_type_hint", "client_id", "client_secret"],
  "/oauth/authorize": ["client_id", "redirect_uri", "state", "response_type", "scope", "code_challenge", "code_challenge_method"],
};
const ODD_TYPES = [
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "application/jsonx",
  "image/png",
  "*/*",
];
const ALL_TYPES = ["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "APPLICATION/JSON", ...ODD_TYPES];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"];

function jsonValue(fx: Fixture): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(anyText, fc.constantFrom(...fx.known), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  return fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 4 }), tie("object")),
    object: fc.dictionary(fc.oneof(fc.constantFrom(...BODY_NAMES), oddText), tie("value"), { maxKeys: 5 }),
  })).value;
}

type Body = { type: string | undefined; payload: string | undefined };

function bodyArb(fx: Fixture): fc.Arbitrary<Body> {
  const form = fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...BODY_NAMES), oddText), fc.oneof(oddText, fc.constantFrom(...fx.known))), { maxLength: 6 })
    .map((pairs) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&"));
  const payload = fc.oneof(
    jsonValue(fx).map((value) => JSON.stringify(value) ?? "null"),
    form,
    fc.nat({ max: 5000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
    fc.nat({ max: 5000 }).map((n) => `${'{"name":'.repeat(n)}1${"}".repeat(n)}`),
    fc.constantFrom('{"a":1,"a":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', "[]", '""', "0", "null", "{}", "\ufeff{}"),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  );
  return fc.oneof(
    fc.constant<Body>({ type: undefined, payload: undefined }),
    fc.record({ type: fc.option(fc.constantFrom(...ALL_TYPES), { nil: undefined }), payload }),
  );
}

function headersArb(fx: Fixture, admin: boolean): fc.Arbitrary<Record<string, string>> {
  // What Node's HTTP parser lets through in a header value: tab, printable ASCII, obs-text.
  const char = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
  const headerText = fc.string({ unit: fc.oneof(fc.constant("\t"), char(0x20, 0x7e), char(0x80, 0xff)), maxLength: 80 });
  const authorization = fc.oneof(
    { arbitrary: fc.constant(`Bearer ${ADMIN_TOKEN}`), weight: admin ? 4 : 1 },
    fc.constant(undefined),
    headerText.map((text) => `Bearer ${text}`),
    headerText,
    // (encodeURIComponent, inside basic(), cannot take a lone surrogate: a NUL stands in.)
    fc
      .tuple(fc.oneof(fc.constantFrom(...fx.known), anyText), anyText)
      .map(([id, secret]) => basic(id.replace(/[\ud800-\udfff]/g, "\u0000"), secret.replace(/[\ud800-\udfff]/g, "x"))),
    headerText.map((text) => `Basic ${Buffer.from(text, "latin1").toString("base64")}`),
  );
  return fc
    .record({
      authorization,
      accept: fc.option(fc.constantFrom("*/*", "text/html", "application/json", "x/y;q=2"), { nil: undefined }),
      "x-forwarded-for": fc.option(headerText, { nil: undefined }),
      "user-agent": fc.option(headerText, { nil: undefined }),
    })
    .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<string, string>);
}

/** The defect that makes a request one the endpoint must refuse (and so change nothing). */
type Poison = "text" | "auth" | "parse" | "media" | "size" | "id" | "encoding" | "method" | "traversal" | "none";

function poisonsFor(route: Route): Poison[] {
  const hasParams = route.path.includes(":");
  if (!route.path.startsWith("/oauth/") && !route.path.startsWith("/admin/")) return ["none", "method", "traversal", "encoding"]; // read-only routes
  if (route.path === "/oauth/authorize") return ["text", "method", "traversal", "encoding"];
  const withBody: Poison[] = route.method === "GET" ? ["none"] : ["parse", "media", "size"];
  if (route.path.startsWith("/oauth/")) return ["text", "auth", "method", "traversal", "encoding", "none", ...withBody];
  return ["text", "auth", "method", "traversal", "encoding", ...withBody, ...(hasParams ? (["id"] as Poison[]) : [])];
}

function requestArb(route: Route, fx: Fixture): fc.Arbitrary<Req> {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const paramValue = (name: string) => fc.oneof({ arbitrary: fc.constantFrom(...(fx.values[`${route.path}:${name}`] ?? ["x"])), weight: 3 }, anyText);
  const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_NAMES), oddText), fc.oneof(anyText, fc.constantFrom(...fx.known))), {
    maxLength: 6,
  });
  const admin = route.path.startsWith("/admin/");
  const key = `${route.method} ${route.path}`;
  return fc
    .record({
      poison: fc.constantFrom(...poisonsFor(route)),
      useTemplate: fc.boolean(),
      params: fc.tuple(...names.map(paramValue)),
      query,
      rawQuery: fc.constantFrom("", "&%zz", "&=", "&a", "&a[b]=c", "&__proto__=x", "&x=%ED%A0%80"),
      body: bodyArb(fx),
      headers: headersArb(fx, admin),
      bad: badText,
      nul: nulText,
      pick: fc.nat(),
      asJson: fc.boolean(),
      odd: fc.constantFrom(...ODD_TYPES),
      method: fc.constantFrom(...METHODS),
      traversal: fc.constantFrom("/../", "/./", "/%2e%2e/", "/..%2f", "//", "/%2F/"),
      encoding: fc.constantFrom("%zz", "%", "%E0%A4%A", "%ED%A0%80", "%C0%80", "%FF", "a%2", "%u0041"),
    })
    .map((r) => {
      const params = [...r.params];
      const query = [...r.query];
      let { type, payload } = r.body;
      const headers = { ...r.headers };
      // Admin requests mostly carry the token, so that the corpus reaches past the auth hook.
      if (admin && r.pick % 5 !== 0) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
      const template = (r.poison === "none" ? fx.deepTemplates[key] : fx.templates[key]) ?? {};
      if (r.useTemplate) {
        if (route.method === "GET") query.unshift(...Object.entries(template).map(([k, v]) => [k, String(v)] as [string, string]));
        else if (r.asJson || admin) [type, payload] = ["application/json", JSON.stringify({ ...template, ...safeObject(payload) })];
        else {
          const form = [new URLSearchParams(template as Record<string, string>).toString(), formOf(payload)];
          [type, payload] = ["application/x-www-form-urlencoded", form.filter(Boolean).join("&")];
        }
      }
      let method = route.method;
      let traversal = false;
      // Percent-encoding that does not decode to UTF-8, put in the path as it is (a refused URL).
      let encoding: string | undefined;
      const reads = OAUTH_READS[route.path];
      switch (r.poison) {
        case "text":
          if (reads) {
            const name = reads[r.pick % reads.length]!;
            if (route.method === "GET") query.push([name, r.nul]);
            else if (r.asJson) [type, payload] = ["application/json", JSON.stringify({ ...safeObject(payload), [name]: r.bad })];
            else [type, payload] = ["application/x-www-form-urlencoded", `${formOf(payload)}&${name}=${pct(r.nul)}`];
          } else {
            const where = r.pick % 3;
            if (where === 0 && params.length > 0) params[r.pick % params.length] = r.nul;
            else if (where === 1 && route.method !== "GET") {
              [type, payload] = ["application/json", JSON.stringify({ ...safeObject(payload), [r.pick % 2 ? "name" : r.bad]: r.bad })];
            } else query.push([r.pick % 2 ? QUERY_NAMES[r.pick % QUERY_NAMES.length]! : r.nul, r.nul]);
          }
          break;
        case "auth":
          if (admin) headers.authorization = r.pick % 2 ? "Bearer wrong-token" : "";
          else headers.authorization = basic(fx.values.client_id![r.pick % fx.values.client_id!.length]!, "ags_not-the-secret");
          if (headers.authorization === "") delete headers.authorization;
          break;
        case "parse":
          [type, payload] = ["application/json", `${(payload ?? "").slice(0, 100)}{"a":`];
          break;
        case "media":
          [type, payload] = [admin && r.pick % 2 ? "application/x-www-form-urlencoded" : r.odd, payload || "a=1"];
          break;
        case "size":
          [type, payload] = r.asJson
            ? ["application/json", `{"a":"${"x".repeat(70_000)}"}`]
            : ["application/x-www-form-urlencoded", `a=${"x".repeat(70_000)}`];
          break;
        case "id":
          params[r.pick % params.length] = `no-such-${r.pick}`;
          break;
        case "encoding":
          encoding = r.encoding;
          break;
        case "method": {
          const taken = fx.methodsAt.get(route.path)!;
          const free = METHODS.filter((m) => !taken.has(m) && !(m === "HEAD" && taken.has("GET")));
          method = free[r.pick % free.length]!;
          break;
        }
        case "traversal":
          traversal = true;
          method = ["GET", "HEAD", "OPTIONS"][r.pick % 3]!;
          break;
        case "none":
          // Only the read-only routes go without a defect; those outside both contexts also with any method.
          if (!admin && !route.path.startsWith("/oauth/") && r.pick % 4 === 0) method = r.method;
      }
      let i = 0;
      let path = route.path.replace(/:(\w+)/g, () => pct(params[i++] ?? ""));
      if (encoding !== undefined) path = names.length > 0 ? path.replace(pct(params[0] ?? ""), encoding) : `${path}${encoding}`;
      if (traversal) {
        // No query: a traversal that lands on /oauth/authorize must not carry a valid request.
        const cut = path.lastIndexOf("/");
        return { method, url: `${path.slice(0, cut)}${r.traversal}${path.slice(cut + 1)}${r.traversal}..`, headers };
      }
      const search = query.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&") + r.rawQuery;
      if (type !== undefined) headers["content-type"] = type;
      return { method, url: `${path}${search ? `?${search}` : ""}`, headers, ...(payload !== undefined ? { payload } : {}) };
    });
}

/** The payload's top-level object, to merge parameters into; {} unless it is one (and shallow enough to re-serialise). */
function safeObject(payload: string | undefined): Record<string, unknown> {
  if (payload === undefined || payload.length > 10_000 || (payload.match(/[[{]/g)?.length ?? 0) > 100) return {};
  try {
    const value: unknown = JSON.parse(payload ?? "");
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function formOf(payload: string | undefined): string {
  return payload !== undefined && /^[\w%.~+=&-]*$/.test(payload) ? payload : "";
}

// ---------------------------------------------------------------------------
// Properties

/** What is wrong with an answer (a 5xx, or an error not in its endpoint's shape); null when nothing. */
function problemWith(req: Req, res: InjectResponse): string | null {
  if (res.statusCode >= 500) return `answered ${res.statusCode}`;
  if (res.statusCode < 400 || req.method === "HEAD") return null;
  const path = new URL(req.url, "http://x").pathname;
  const isJson = /^application\/json/.test(String(res.headers["content-type"]));
  if (path.startsWith("/oauth/authorize") && /^text\/html/.test(String(res.headers["content-type"]))) return null;
  let body: Record<string, unknown>;
  try {
    body = isJson ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    return "an error body that is not JSON";
  }
  if (!isJson) return `an error of type ${String(res.headers["content-type"])}`;
  if (path === "/oauth" || path.startsWith("/oauth/")) {
    const keys = Object.keys(body).sort().join(",");
    return (keys === "error,error_description" || keys === "error") && typeof body.error === "string" ? null : `not an RFC 6749 error: ${res.body}`;
  }
  if (path === "/app" || path.startsWith("/app/")) {
    // The GitHub-compatible endpoint answers as GitHub does: {message}.
    return Object.keys(body).join(",") === "message" && typeof body.message === "string"
      ? null
      : `not GitHub's error shape: ${res.body.slice(0, 200)}`;
  }
  const keys = Object.keys(body).sort().join(",");
  if (keys !== "code,error,message,request_id,statusCode") return `not the admin error shape: ${res.body.slice(0, 200)}`;
  if (body.statusCode !== res.statusCode || body.error !== STATUS_CODES[res.statusCode])
    return `status and label disagree: ${res.body.slice(0, 200)}`;
  return null;
}

const describe = (req: Req) =>
  `${req.method} ${req.url.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 300)} ${JSON.stringify(req.payload?.slice(0, 300))}`;

t.test(`malformed requests to every route: no 5xx, the endpoint's error shape, no state change (seed ${SEED}, ${RUNS} runs per route)`, async (t) => {
  const test = await buildTestApp(t, ENV);
  const confidential = await setup(test, { app: { redirect_uris: [CALLBACK] } });
  const publicClient = await setup(test, { app: { redirect_uris: [CALLBACK], client_type: "public" } });
  const authorize = await test.app.inject({
    method: "GET",
    url: `/oauth/authorize?response_type=code&client_id=${confidential.client.client_id}&state=s`,
  });
  const requestId = new URL(String(authorize.headers.location)).searchParams.get("request_id")!;
  // A CLI app with a pending device authorization: the device routes look a real user code up.
  const device = await setup(test, {
    app: { redirect_uris: [CALLBACK], client_type: "public", grant_types: ["authorization_code", "refresh_token", DEVICE_CODE_GRANT] },
  });
  const deviceStart = await test.app.inject({
    method: "POST",
    url: "/oauth/device_authorization",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: `client_id=${device.client.client_id}&scope=read`,
  });
  const userCode: string = deviceStart.json().user_code;
  const secretIds = (await test.admin("GET", `/admin/v1/applications/${confidential.client.id}/secrets`))
    .json()
    .items.map((s: { id: string }) => s.id);

  const routes = routesOf(test);
  t.ok(routes.length >= 20 && routes.some((r) => r.path === "/oauth/token"), `the route tree was read (${routes.length} routes)`);
  const methodsAt = new Map<string, Set<string>>();
  for (const route of routes) methodsAt.set(route.path, (methodsAt.get(route.path) ?? new Set()).add(route.method));
  const appIds = [confidential.client.id, publicClient.client.id];
  const installationIds = [confidential.installation.id, publicClient.installation.id];
  const values: Record<string, string[]> = { client_id: [confidential.client.client_id, publicClient.client.client_id] };
  for (const route of routes) {
    const prefix = route.path.split("/")[3];
    values[`${route.path}:id`] = prefix === "applications" ? appIds : prefix === "installations" ? installationIds : [requestId];
    values[`${route.path}:secretId`] = secretIds;
    values[`${route.path}:user_code`] = [userCode];
  }
  const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  const fx: Fixture = {
    values,
    methodsAt,
    templates: {
      "GET /oauth/authorize": {
        response_type: "code",
        client_id: confidential.client.client_id,
        redirect_uri: CALLBACK,
        state: "s",
        scope: "read",
        code_challenge: challenge,
        code_challenge_method: "S256",
      },
      "POST /oauth/token": {
        grant_type: "refresh_token",
        refresh_token: publicClient.tokens.refresh_token,
        client_id: publicClient.client.client_id,
        scope: "read",
      },
      "POST /oauth/revoke": { token: publicClient.tokens.access_token, token_type_hint: "access_token", client_id: publicClient.client.client_id },
      "POST /oauth/introspect": { token: confidential.tokens.access_token, client_id: confidential.client.client_id },
      "POST /admin/v1/applications": { name: "Fuzz", redirect_uris: [CALLBACK], scopes: ["read"] },
      "PATCH /admin/v1/applications/:id": { name: "Renamed", scopes: ["read", "write"] },
      "POST /admin/v1/applications/:id/secrets": { expires_at: "2030-01-01T00:00:00Z" },
      "POST /admin/v1/installations": { client_id: confidential.client.client_id, account: "fuzz" },
      "GET /admin/v1/installations": { client_id: confidential.client.client_id, status: "active", limit: 5 },
      "GET /admin/v1/applications": { limit: 5 },
      "POST /admin/v1/authorization-requests/:id/accept": { account: "fuzz", scopes: ["read"] },
      "POST /admin/v1/device-authorizations/:user_code/accept": { account: "fuzz", scopes: ["read"] },
      "POST /oauth/device_authorization": { client_id: confidential.client.client_id, scope: "read" },
      "DELETE /admin/v1/applications/:id/secrets/:secretId": {},
    },
    known: [
      ...values.client_id!,
      ...appIds,
      ...installationIds,
      requestId,
      userCode,
      CALLBACK,
      "authorization_code",
      "refresh_token",
      "code",
      "S256",
      "read",
      // The confidential client's credentials only: without its secret (never in the corpus) they change nothing.
      confidential.tokens.access_token,
      confidential.tokens.refresh_token,
      confidential.installation.code,
    ],
    deepTemplates: {
      "POST /oauth/token": {
        grant_type: "refresh_token",
        refresh_token: confidential.tokens.refresh_token,
        code: confidential.installation.code,
        client_id: publicClient.client.client_id,
        redirect_uri: CALLBACK,
        code_verifier: "v".repeat(43),
        scope: "read",
      },
      "POST /oauth/revoke": { token: confidential.tokens.refresh_token, token_type_hint: "refresh_token", client_id: publicClient.client.client_id },
      "POST /oauth/introspect": { token: confidential.tokens.access_token, client_id: publicClient.client.client_id },
    },
  };

  const baseline = await snapshot(test);
  t.ok(
    baseline.token.length >= 2 && baseline.authorizationRequest.length === 1,
    "a real installation, token pairs and a pending request are present",
  );
  const statuses = new Map<number, number>();
  const started = Date.now();
  for (const route of [...routes, { method: "GET", path: "/admin/v1/nothing/:id" }, { method: "POST", path: "/oauth/nothing" }]) {
    if (!methodsAt.has(route.path)) methodsAt.set(route.path, new Set());
    await t.test(`${route.method} ${route.path}`, async (t) => {
      await fc.assert(
        fc.asyncProperty(requestArb(route, fx), async (req) => {
          const payload = req.payload !== undefined ? { payload: req.payload } : {};
          const res = await test.app.inject({ method: req.method as "GET", url: req.url, headers: req.headers, ...payload });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const problem = problemWith(req, res);
          if (problem !== null) throw new Error(`${problem}\n  request: ${describe(req)}\n  answer: ${res.statusCode} ${res.body.slice(0, 300)}`);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      t.same(await snapshot(test), baseline, "nothing in the database changed");
    });
  }
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.comment(
    `${total} requests in ${Date.now() - started} ms; by status: ${[...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ")}`,
  );
});
