// Logs never carry a credential: after a scenario (including requests that put
// credentials in headers, query strings and bodies, and refused token requests),
// no captured line contains one.
import t from "tap";
import { PREFIXES } from "../../src/crypto/tokens.js";
import { censor, redactUrl } from "../../src/main/logging.js";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";

/** Any appgrant credential (ags_ secrets, agc_ codes, aga_/agr_ tokens, and any kind added later). */
const CREDENTIAL = new RegExp(`(?:${Object.values(PREFIXES).join("|")})[0-9A-Za-z]{49}(?:[0-9A-Za-z]{22})?`);

async function scenario(test: TestApp) {
  const secrets: string[] = [];
  const codes: string[] = [];
  const confidential = await createApp(test, { name: "Confidential" });
  const pub = await createApp(test, { name: "Public", client_type: "public" });
  secrets.push(confidential.client_secret!);
  secrets.push((await test.admin("POST", `/admin/v1/applications/${confidential.id}/secrets`, {})).json().client_secret);
  const a = await install(test, confidential.client_id, { account: "acme" });
  const b = await install(test, pub.client_id, { account: "acme" });
  codes.push(a.code, b.code);
  codes.push((await test.admin("POST", `/admin/v1/installations/${a.id}/code`)).json().code);
  await test.admin("DELETE", `/admin/v1/installations/${b.id}`);

  // The app exchanges the live code and refreshes; then replays the old refresh token (reuse).
  const tokens: string[] = [];
  const basic = `Basic ${Buffer.from(`${confidential.client_id}:${secrets[1]}`).toString("base64")}`;
  const form = { authorization: basic, "content-type": "application/x-www-form-urlencoded" };
  const exchanged = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: form,
    payload: `grant_type=authorization_code&code=${codes[2]}`,
  });
  tokens.push(exchanged.json().access_token, exchanged.json().refresh_token);
  const refreshed = await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: form,
    payload: `grant_type=refresh_token&refresh_token=${tokens[1]}`,
  });
  tokens.push(refreshed.json().access_token, refreshed.json().refresh_token);
  test.clock.advance(3600);
  await test.app.inject({ method: "POST", url: "/oauth/token", headers: form, payload: `grant_type=refresh_token&refresh_token=${tokens[1]}` });
  await test.app.inject({ method: "POST", url: "/oauth/token", headers: form, payload: `grant_type=authorization_code&code=${codes[2]}` });

  // Credentials where a careless logger would pick them up.
  const [secret, code] = [secrets[0]!, codes[1]!];
  await test.admin("GET", `/admin/v1/installations?code=${code}&client_secret=${secret}&refresh_token=${tokens[3]}&account=acme`);
  await test.app.inject({
    method: "GET",
    url: `/admin/v1/applications?access_token=${tokens[2]}`,
    headers: { authorization: `Bearer ${tokens[2]}` },
  });
  await test.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...form, authorization: `Basic ${Buffer.from(`${confidential.client_id}:${secret}x`).toString("base64")}`, cookie: `s=${secret}` },
    payload: `grant_type=authorization_code&code=${code}&client_secret=${secret}`,
  });
  await test.app.inject({
    method: "POST",
    url: `/oauth/token?code=${code}`,
    headers: { "content-type": "application/json" },
    payload: `{"grant_type": "refresh_token", "refresh_token": "${tokens[3]}", "client_id": "${confidential.client_id}", "client_secret": "${secret}"}`,
  });
  await test.app.inject({
    method: "POST",
    url: "/admin/v1/applications",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    payload: `{"name": "broken", "client_secret": "${secret}", "code": "${code}"`,
  });

  for (const value of [...secrets, ...codes, ...tokens]) {
    if (typeof value !== "string" || !CREDENTIAL.test(value)) throw new Error("scenario: a credential was not issued");
  }
  return { secrets, codes, tokens };
}

t.test("no log line contains the admin token, a client secret, a code, a token or an Authorization header", async (t) => {
  const test = await buildTestApp(t, { LOG_LEVEL: "trace" });
  const { secrets, codes, tokens } = await scenario(test);
  const lines = test.logs
    .join("")
    .split("\n")
    .filter((line) => line !== "");

  t.ok(lines.length >= 20, `the logs were captured (${lines.length} lines)`);
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.ok(
    parsed.some((l) => (l.req as { url?: string } | undefined)?.url?.startsWith("/admin/v1/installations?")),
    "request lines with their query strings are logged",
  );
  t.ok(
    parsed.some((l) => l.msg === "installation created"),
    "the routes' own lines are logged",
  );
  t.ok(
    parsed.some((l) => typeof l.oauthError === "string"),
    "the token endpoint's refusals are logged with their error code",
  );

  const all = lines.join("\n");
  t.notOk(all.includes(ADMIN_TOKEN), "the admin token is not logged");
  for (const value of [...secrets, ...codes, ...tokens]) {
    t.notOk(all.includes(value), `${value.slice(0, 4)}… is not logged`);
    t.notOk(all.includes(value.slice(4)), `${value.slice(0, 4)}… is not logged without its prefix either`);
  }
  t.notMatch(all, CREDENTIAL, "nothing shaped like a credential is logged");
  t.notMatch(all, /"authorization"\s*:/i, "no Authorization header is logged");
  t.notMatch(all, /(Basic|Bearer) [A-Za-z0-9+/=_-]{20,}/, "nor any Basic or Bearer credentials");
  t.notMatch(all, /"cookie"\s*:|s=ags_/i, "nor the cookie");
  t.notOk(
    parsed.some((l) => (l.req as { headers?: unknown } | undefined)?.headers !== undefined),
    "request headers are not logged at all",
  );
});

t.test("the request line keeps its query string but redacts credential parameters", async (t) => {
  const test = await buildTestApp(t);
  await test.admin("GET", "/admin/v1/installations?account=acme&code=agc_secret&status=active");
  const line = test.logs.map((l) => JSON.parse(l) as { req?: { url: string } }).find((l) => l.req?.url?.includes("account=acme"));
  t.ok(line, "the request was logged");
  t.equal(line?.req?.url, "/admin/v1/installations?account=acme&code=%5BRedacted%5D&status=active");
});

t.test("redactUrl masks every credential-bearing parameter and nothing else", async (t) => {
  const cases: [string, string][] = [
    ["/healthz", "/healthz"],
    ["/x?account=acme", "/x?account=acme"],
    ["/x?code=abc", "/x?code=%5BRedacted%5D"],
    ["/x?client_secret=abc&client_id=app", "/x?client_secret=%5BRedacted%5D&client_id=app"],
    ["/x?refresh_token=a&access_token=b&token=c", "/x?refresh_token=%5BRedacted%5D&access_token=%5BRedacted%5D&token=%5BRedacted%5D"],
    ["/x?code_verifier=v&state=s", "/x?code_verifier=%5BRedacted%5D&state=%5BRedacted%5D"],
    ["/x?code=a&code=b", "/x?code=%5BRedacted%5D"],
    // The user code in the verification page's paths, however the router would match them.
    ["/admin/v1/device-authorizations/ABCD-EFGH", "/admin/v1/device-authorizations/[Redacted]"],
    ["/admin/v1/device-authorizations/abcdefgh/accept?account=acme", "/admin/v1/device-authorizations/[Redacted]/accept?account=acme"],
    ["/admin/v1/device%2Dauthorizations/ABCD-EFGH/reject", "/admin/v1/device%2Dauthorizations/[Redacted]/reject"],
    ["/admin/v1/%64evice-authorizations/AB%2FCD", "/admin/v1/%64evice-authorizations/[Redacted]"],
    ["/admin/v1/authorization-requests/ar_1", "/admin/v1/authorization-requests/ar_1"],
  ];
  for (const [url, expected] of cases) t.equal(redactUrl(url), expected, url);
});

t.test("censor replaces credential-named keys three levels deep and leaves class instances to their serializers", async (t) => {
  const error = Object.assign(new Error("boom"), { code: "P2002" });
  t.same(
    censor({
      code: "agc_x",
      nested: { client_secret: "s", deeper: { refresh_token: "r", keep: 1 } },
      list: [{ token: "t" }],
      Authorization: "Basic x",
      key: { kid: "k", private_key: "-----BEGIN PRIVATE KEY-----" },
    }),
    {
      code: "[Redacted]",
      nested: { client_secret: "[Redacted]", deeper: { refresh_token: "[Redacted]", keep: 1 } },
      list: [{ token: "[Redacted]" }],
      Authorization: "[Redacted]",
      key: { kid: "k", private_key: "[Redacted]" },
    },
  );
  t.equal((censor({ err: error }) as { err: Error }).err, error, "an Error goes to pino's err serializer untouched");
});

t.test("request lines still say what was asked, without secrets", async (t) => {
  const test = await buildTestApp(t);
  await test.app.inject({ method: "GET", url: "/healthz?code=agc_secret" });
  await test.app.inject({ method: "POST", url: "/oauth/token?token=aga_secret", payload: { grant_type: "x" } });
  const incoming = test.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === "incoming request");
  const token = incoming.find((line) => line.req.url.startsWith("/oauth/token"));
  t.ok(token, "the token request was logged");
  t.equal(token.req.method, "POST");
  t.equal(token.req.url, "/oauth/token?token=%5BRedacted%5D");
  t.notMatch(test.logs.join("\n"), /agc_secret|aga_secret/);
});
