// A refused OAuth request's log line names the client_id it claimed (HTTP Basic's id
// or the client_id parameter), so an operator can tell whose requests fail; never the
// secret that came with it.
import t, { type Test } from "tap";
import { buildTestApp, type TestApp } from "../support/helper.js";
import { basic, setup } from "../support/oauth-helper.js";

const ENV = { APPGRANT_CONSENT_URL: "https://platform.example/consent", APPGRANT_ISSUER: "https://auth.example" };
const WRONG_SECRET = "ags_wrongwrongwrongwrongwrongwrongwrongwrongwrongwr";

/** The refusal lines written since `from`. */
function refusals(test: TestApp, from: number): Record<string, unknown>[] {
  return test.logs
    .slice(from)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => /refused/.test(String(entry.msg)));
}

async function expectLogged(t: Test, test: TestApp, clientId: string, request: () => Promise<{ statusCode: number }>, what: string) {
  const from = test.logs.length;
  const res = await request();
  t.ok(res.statusCode >= 400 || res.statusCode === 302, `${what}: refused (${res.statusCode})`);
  const lines = refusals(test, from);
  t.equal(lines.length, 1, `${what}: one refusal line`);
  t.equal(lines[0]?.clientId, clientId, `${what}: names the claimed client_id`);
  t.notOk(test.logs.slice(from).join("").includes(WRONG_SECRET), `${what}: not the secret`);
}

t.test("refusals at the token, revocation and introspection endpoints name the claimed client_id", async (t) => {
  const test = await buildTestApp(t, ENV);
  const { client, tokens } = await setup(test);
  const form =
    (url: string, payload: string, headers: Record<string, string> = {}) =>
    () =>
      test.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
  const id = client.client_id;
  const wrongBasic = { authorization: basic(id, WRONG_SECRET) };
  const refresh = `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`;
  await expectLogged(t, test, id, form("/oauth/token", refresh, wrongBasic), "token, wrong Basic secret");
  const posted = `grant_type=refresh_token&refresh_token=x&client_id=${id}&client_secret=${WRONG_SECRET}`;
  await expectLogged(t, test, id, form("/oauth/token", posted), "token, wrong posted secret");
  await expectLogged(t, test, "nobody", form("/oauth/token", "grant_type=authorization_code&code=x&client_id=nobody"), "token, unknown client");
  await expectLogged(t, test, id, form("/oauth/token", `grant_type=password&client_id=${id}`), "token, unsupported grant");
  await expectLogged(t, test, id, form("/oauth/revoke", `token=x`, wrongBasic), "revoke");
  await expectLogged(t, test, id, form("/oauth/introspect", `token=x&client_id=${id}`), "introspect without a secret");
});

t.test("refusals at the authorization endpoint name the claimed client_id, on the error page too", async (t) => {
  const test = await buildTestApp(t, ENV);
  const { client } = await setup(test);
  const get = (query: string) => () => test.app.inject({ method: "GET", url: `/oauth/authorize?${query}` });
  await expectLogged(t, test, "nobody", get("response_type=code&client_id=nobody"), "unknown client (page)");
  const unregistered = `response_type=code&client_id=${client.client_id}&redirect_uri=https://evil.example/`;
  await expectLogged(t, test, client.client_id, get(unregistered), "bad redirect_uri (page)");
  await expectLogged(t, test, client.client_id, get(`response_type=token&client_id=${client.client_id}`), "unsupported response_type (redirect)");
});
