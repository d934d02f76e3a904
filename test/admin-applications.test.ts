import t from "tap";
import { buildTestApp, createApp } from "./helper.js";

t.test("creates an application and returns its secret exactly once", async (t) => {
  const test = await buildTestApp(t);
  const created = await createApp(test, { webhook_url: "https://app.example/hook" });
  t.match(created.client_secret, /^ags_[0-9A-Za-z]{49}$/);
  t.equal(created.client_type, "confidential");
  t.same(created.scopes, ["read", "write"]);
  t.equal(created.webhook_url, "https://app.example/hook");

  const shown = await test.admin("GET", `/admin/v1/applications/${created.id}`);
  t.equal(shown.statusCode, 200);
  t.notOk("client_secret" in shown.json(), "GET never returns the secret");
  t.notMatch(shown.body, created.client_secret!);
  const listed = await test.admin("GET", "/admin/v1/applications");
  t.notMatch(listed.body, created.client_secret!);
});

t.test("names the offending field on schema failure", async (t) => {
  const test = await buildTestApp(t);
  const missing = await test.admin("POST", "/admin/v1/applications", { name: "x", scopes: ["read"] });
  t.equal(missing.statusCode, 400);
  t.match(missing.json(), { statusCode: 400, code: "invalid_request", error: "Bad Request", message: /redirect_uris/ });
  const unknown = await test.admin("POST", "/admin/v1/applications", { name: "x", scopes: ["read"], redirect_uris: ["https://a.example/cb"], redirect_uri: "x" });
  t.equal(unknown.statusCode, 400);
  t.match(unknown.json().message, /redirect_uri/);
});
