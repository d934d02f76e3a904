// POST /oauth/token as an HTTP endpoint: response shapes and headers, content types,
// methods, parameter rules, each RFC 6749 §5.2 error code, and what reaches the log.
import t from "tap";
import { generateCredential } from "../../src/crypto/tokens.js";
import { buildTestApp } from "../support/helper.js";
import {
  basic,
  exchange,
  expectError,
  expectNoStore,
  expectNothingSecretLogged,
  expectTokens,
  failTokenInserts,
  formBody,
  newClient,
  newInstallation,
  rawTokenRequest,
  refresh,
  remember,
  setup,
  tokenRequest,
  tokenRow,
} from "../support/oauth-helper.js";

t.test("a code exchange answers the documented token response, without caching", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const tokens = expectTokens(t, await exchange(test, client, installation.code), { scope: "read write", installation_id: installation.id });
  t.equal(tokens.expires_in, 28800, "expires_in is the 8 h access token lifetime");
  t.not(tokens.access_token.slice(4), tokens.refresh_token.slice(4), "access and refresh tokens are different secrets");
});

t.test("a refresh answers the same response shape, with the remaining lifetime of the new access token", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  test.clock.advance(3600);
  const refreshed = expectTokens(t, await refresh(test, client, tokens.refresh_token), { scope: "read write", installation_id: installation.id });
  t.equal(refreshed.expires_in, 28800, "a fresh access token lives 8 h from the refresh");
  t.not(refreshed.access_token, tokens.access_token);
  t.not(refreshed.refresh_token, tokens.refresh_token);
});

t.test("the access token lifetime follows configuration", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_ACCESS_TOKEN_LIFETIME: "900" });
  const { client, tokens } = await setup(test);
  t.equal(tokens.expires_in, 900);
  t.equal(expectTokens(t, await refresh(test, client, tokens.refresh_token)).expires_in, 900);
});

t.test("accepts form-urlencoded and JSON bodies, with or without a charset", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const cases = [
    { name: "form", contentType: "application/x-www-form-urlencoded", encode: formBody },
    { name: "form; charset", contentType: "application/x-www-form-urlencoded; charset=UTF-8", encode: formBody },
    { name: "JSON", contentType: "application/json", encode: (p: Record<string, string>) => JSON.stringify(p) },
    { name: "JSON; charset", contentType: "application/json; charset=utf-8", encode: (p: Record<string, string>) => JSON.stringify(p) },
  ];
  for (const c of cases) {
    const installation = await newInstallation(test, client);
    const res = await rawTokenRequest(test, {
      headers: { "content-type": c.contentType, authorization: basic(client.client_id, client.client_secret!) },
      payload: c.encode({ grant_type: "authorization_code", code: installation.code }),
    });
    t.equal(res.statusCode, 200, `${c.name}: code exchanged`);
    const tokens = expectTokens(t, res, { installation_id: installation.id });
    const refreshed = await rawTokenRequest(test, {
      headers: { "content-type": c.contentType },
      payload: c.encode({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: client.client_id,
        client_secret: client.client_secret!,
      }),
    });
    t.equal(refreshed.statusCode, 200, `${c.name}: refreshed with client_secret_post`);
  }
});

t.test("refuses any other content type, or a body without one, as invalid_request", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const form = formBody({ grant_type: "authorization_code", code: installation.code });
  const boundary = "----appgrant";
  const multipart =
    `--${boundary}\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nauthorization_code\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="code"\r\n\r\n${installation.code}\r\n--${boundary}--\r\n`;
  const cases: { name: string; headers: Record<string, string>; payload: string }[] = [
    { name: "text/plain", headers: { "content-type": "text/plain" }, payload: form },
    { name: "multipart/form-data", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, payload: multipart },
    { name: "application/xml", headers: { "content-type": "application/xml" }, payload: "<grant_type>authorization_code</grant_type>" },
    { name: "no content type", headers: {}, payload: form },
  ];
  for (const c of cases) {
    const res = await rawTokenRequest(test, {
      headers: { authorization: basic(client.client_id, client.client_secret!), ...c.headers },
      payload: c.payload,
    });
    t.equal(res.headers["content-type"]?.toString().split(";")[0], "application/json", `${c.name}: answered in JSON`);
    expectError(t, test, res, "invalid_request", 400);
  }
  const empty = await rawTokenRequest(test, { headers: { authorization: basic(client.client_id, client.client_secret!) } });
  expectError(t, test, empty, "invalid_request", 400);
  const notObject = await rawTokenRequest(test, {
    headers: { "content-type": "application/json", authorization: basic(client.client_id, client.client_secret!) },
    payload: JSON.stringify([
      ["grant_type", "authorization_code"],
      ["code", installation.code],
    ]),
  });
  expectError(t, test, notObject, "invalid_request", 400);
  const badJson = await rawTokenRequest(test, {
    headers: { "content-type": "application/json", authorization: basic(client.client_id, client.client_secret!) },
    payload: `{"grant_type": "authorization_code", "code": "${installation.code}"`,
  });
  expectError(t, test, badJson, "invalid_request", 400);

  expectTokens(t, await exchange(test, client, installation.code), { installation_id: installation.id });
  t.pass("none of the refused requests consumed the code");
});

t.test("answers any method but POST with 405, Allow: POST and an OAuth error", async (t) => {
  const test = await buildTestApp(t);
  for (const method of ["GET", "PUT", "PATCH", "DELETE"] as const) {
    const res = await test.app.inject({ method, url: "/oauth/token?grant_type=authorization_code" });
    t.equal(res.headers.allow, "POST", `${method}: Allow: POST`);
    expectError(t, test, res, "invalid_request", 405);
  }
});

t.test("refuses a parameter sent twice, in a form or in JSON", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const auth = basic(client.client_id, client.client_secret!);
  const form = (pairs: [string, string][]) => ({
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    payload: formBody(pairs),
  });
  const json = (text: string) => ({ headers: { authorization: auth, "content-type": "application/json" }, payload: text });
  const code = installation.code;
  const cases = [
    {
      name: "form: code twice",
      request: form([
        ["grant_type", "authorization_code"],
        ["code", code],
        ["code", code],
      ]),
    },
    {
      name: "form: code twice, one of them empty",
      request: form([
        ["grant_type", "authorization_code"],
        ["code", code],
        ["code", ""],
      ]),
    },
    {
      name: "form: grant_type twice",
      request: form([
        ["grant_type", "authorization_code"],
        ["grant_type", "authorization_code"],
        ["code", code],
      ]),
    },
    { name: "JSON: code twice", request: json(`{"grant_type":"authorization_code","code":"${code}","code":"${code}"}`) },
    {
      name: "JSON: code twice, one spelt with an escape",
      request: json(`{"grant_type":"authorization_code","code":"${code}","\\u0063ode":"${code}"}`),
    },
    { name: "JSON: grant_type twice", request: json(`{"grant_type":"refresh_token","code":"${code}","grant_type":"authorization_code"}`) },
    { name: "JSON: an array value", request: json(`{"grant_type":"authorization_code","code":["${code}","${code}"]}`) },
  ];
  for (const c of cases) {
    const body = expectError(t, test, await rawTokenRequest(test, c.request), "invalid_request", 400);
    t.match(body.error_description, /repeated|string/, `${c.name}: ${body.error_description}`);
  }
  expectTokens(t, await exchange(test, client, code));
  t.pass("the refused requests left the code exchangeable");
});

t.test("an empty parameter counts as absent", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test, { install: { scopes: ["read", "write"] } });
  const noCode = expectError(t, test, await exchange(test, client, ""), "invalid_request", 400);
  t.match(noCode.error_description, /code is required/);
  const noGrantType = expectError(t, test, await tokenRequest(test, { grant_type: "", code: installation.code }, { client }), "invalid_request", 400);
  t.match(noGrantType.error_description, /grant_type is required/);
  const refreshed = expectTokens(t, await refresh(test, client, tokens.refresh_token, { scope: "" }));
  t.equal(refreshed.scope, "read write", "scope= keeps the original scope");
  const post = await refresh(test, client, refreshed.refresh_token, { client_id: client.client_id, client_secret: "" }, { auth: "basic" });
  expectTokens(t, post, { scope: "read write" });
  t.pass("an empty client_secret next to HTTP Basic is not a second authentication method");
});

t.test("ignores parameters it does not know, and those the grant type does not use", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const tokens = expectTokens(
    t,
    await exchange(test, client, installation.code, { state: "xyz", resource: "https://api.example", scope: "admin", refresh_token: "agr_nonsense" }),
    { scope: "read write" },
  );
  t.pass("scope and refresh_token are not authorization_code parameters: ignored, not validated");
  const refreshed = await refresh(test, client, tokens.refresh_token, { code: "agc_nonsense", redirect_uri: "https://evil.example", foo: "bar" });
  expectTokens(t, refreshed);
  const json = await tokenRequest(
    test,
    { grant_type: "refresh_token", refresh_token: refreshed.json().refresh_token, installation: "x" },
    { client, contentType: "json" },
  );
  expectTokens(t, json);
});

t.test("ignores unknown JSON parameters whatever their type, but requires known ones to be strings", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const auth = basic(client.client_id, client.client_secret!);
  const send = (fields: string) =>
    rawTokenRequest(test, { headers: { authorization: auth, "content-type": "application/json" }, payload: `{${fields}}` });
  const unknown = ['"expires_in": 3600', '"offline": true', '"nothing": null', '"extra": {"code": "x", "code": "y"}', '"list": ["a", "b"]'];
  for (const field of unknown) {
    const installation = await newInstallation(test, client);
    const res = await send(`"grant_type": "authorization_code", "code": "${installation.code}", ${field}`);
    t.equal(res.statusCode, 200, `unknown ${field} is ignored (${res.statusCode === 200 ? "" : res.body})`);
  }
  const installation = await newInstallation(test, client);
  for (const field of ['"code": 12345', '"code": {"value": "x"}', '"code": true']) {
    expectError(t, test, await send(`"grant_type": "authorization_code", ${field}`), "invalid_request", 400);
  }
  expectError(t, test, await send(`"grant_type": 1, "code": "${installation.code}"`), "invalid_request", 400);
  expectTokens(t, await exchange(test, client, installation.code));
});

t.test("answers each RFC 6749 §5.2 error code with its status", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test, { install: { scopes: ["read"] } });
  const refreshOnly = await newClient(test);
  await test.app.domain.db.application.update({ where: { id: refreshOnly.id }, data: { grantTypes: "refresh_token" } });
  const refreshOnlyInstall = await newInstallation(test, refreshOnly);

  const cases: { name: string; send: () => Promise<import("light-my-request").Response>; error: string; status: number; basicAuth?: boolean }[] = [
    {
      name: "missing grant_type",
      send: () => tokenRequest(test, { refresh_token: tokens.refresh_token }, { client }),
      error: "invalid_request",
      status: 400,
    },
    {
      name: "missing refresh_token",
      send: () => tokenRequest(test, { grant_type: "refresh_token" }, { client }),
      error: "invalid_request",
      status: 400,
    },
    {
      name: "wrong client secret over Basic",
      send: () => refresh(test, { ...client, client_secret: generateCredential("clientSecret") }, tokens.refresh_token),
      error: "invalid_client",
      status: 401,
      basicAuth: true,
    },
    {
      name: "unknown client over client_secret_post",
      send: () => refresh(test, { client_id: "nobody", client_secret: client.client_secret }, tokens.refresh_token, {}, { auth: "post" }),
      error: "invalid_client",
      status: 401,
    },
    { name: "unknown refresh token", send: () => refresh(test, client, `agr_${"0".repeat(49)}`), error: "invalid_grant", status: 400 },
    {
      name: "grant type the application may not use",
      send: () => exchange(test, refreshOnly, refreshOnlyInstall.code),
      error: "unauthorized_client",
      status: 400,
    },
    {
      name: "unknown grant type",
      send: () => tokenRequest(test, { grant_type: "password", username: "u", password: "p" }, { client }),
      error: "unsupported_grant_type",
      status: 400,
    },
    {
      name: "scope beyond the grant",
      send: () => refresh(test, client, tokens.refresh_token, { scope: "read write" }),
      error: "invalid_scope",
      status: 400,
    },
  ];
  for (const c of cases) {
    const res = await c.send();
    t.test(c.name, async (t) => {
      expectError(t, test, res, c.error, c.status);
      if (c.basicAuth) t.match(res.headers["www-authenticate"], /^Basic\b/, "WWW-Authenticate: Basic");
      else t.notOk(res.headers["www-authenticate"], "no WWW-Authenticate without an Authorization header");
    });
  }
  expectTokens(t, await refresh(test, client, tokens.refresh_token), { scope: "read" });
  t.pass("none of the refused requests spent the refresh token");
});

t.test("refuses grant types it does not serve as unsupported_grant_type", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  for (const grantType of [
    "password",
    "implicit",
    "token",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "AUTHORIZATION_CODE",
    "authorization_code ",
  ]) {
    const res = await tokenRequest(test, { grant_type: grantType, code: "x" }, { client });
    expectError(t, test, res, "unsupported_grant_type", 400);
  }
});

t.test("refuses a grant type the application is not allowed to use as unauthorized_client", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  await test.app.domain.db.application.update({ where: { id: client.id }, data: { grantTypes: "authorization_code" } });
  expectError(t, test, await refresh(test, client, tokens.refresh_token), "unauthorized_client", 400);
  const again = await newInstallation(test, client);
  expectTokens(t, await exchange(test, client, again.code), { installation_id: again.id });
  t.pass("the grant types it is allowed still work");
  await test.app.domain.db.application.update({ where: { id: client.id }, data: { grantTypes: "authorization_code refresh_token" } });
  expectTokens(t, await refresh(test, client, tokens.refresh_token), { installation_id: installation.id });
  t.pass("the refused refresh left the refresh token usable");
});

t.test("an internal failure answers a generic server_error, logged without secrets", async (t) => {
  const test = await buildTestApp(t);
  const client = await newClient(test);
  const installation = await newInstallation(test, client);
  const restore = await failTokenInserts(test, "disk on fire");
  const res = await exchange(test, client, installation.code);
  const body = expectError(t, test, res, "server_error", 500);
  t.notMatch(body.error_description, /disk on fire|Token|INSERT/, "the database's message stays out of the response");
  t.ok(
    test.logs.some((line) => line.includes("disk on fire")),
    "the cause is in the log",
  );
  await restore();
  expectNothingSecretLogged(t, test);
});

t.test("no log line carries a token, code or client secret handled in a full scenario", async (t) => {
  const test = await buildTestApp(t);
  const { client, installation, tokens } = await setup(test);
  const other = await newClient(test);
  // Successes, refusals of every kind, reuse detection and revocation: each logs something.
  const first = expectTokens(t, await refresh(test, client, tokens.refresh_token, { scope: "read" }));
  expectTokens(t, await refresh(test, client, tokens.refresh_token)); // grace retry
  test.clock.advance(61);
  await refresh(test, client, tokens.refresh_token); // reuse: family revoked
  await refresh(test, client, first.refresh_token);
  await exchange(test, client, installation.code); // code reuse
  await exchange(test, other, installation.code);
  await refresh(test, other, first.refresh_token);
  await refresh(test, { ...client, client_secret: other.client_secret }, first.refresh_token);
  await refresh(test, client, first.refresh_token, {}, { auth: "post" });
  await tokenRequest(test, { grant_type: "refresh_token", refresh_token: first.refresh_token, client_secret: client.client_secret! }, { client });
  await rawTokenRequest(test, {
    headers: { "content-type": "text/plain", authorization: basic(client.client_id, client.client_secret!) },
    payload: `code=${installation.code}`,
  });
  await test.app.inject({
    method: "GET",
    url: `/oauth/token?code=${installation.code}&client_secret=${client.client_secret}&refresh_token=${first.refresh_token}`,
  });
  const second = await newInstallation(test, client);
  const pair = expectTokens(t, await exchange(test, client, second.code, {}, { auth: "post", contentType: "json" }));
  await test.admin("DELETE", `/admin/v1/installations/${second.id}`);
  await refresh(test, client, pair.refresh_token);
  const forged = `agr_${"1".repeat(49)}`;
  remember(test, forged);
  await refresh(test, client, forged);
  t.ok(test.logs.length > 10, "the scenario was logged");
  expectNothingSecretLogged(t, test);
  t.ok(await tokenRow(test, pair.refresh_token), "sanity: the helper saw the issued tokens");
});

t.test("every answer of the token endpoint is not cacheable", async (t) => {
  const test = await buildTestApp(t);
  const { client, tokens } = await setup(test);
  const responses = [
    await refresh(test, client, tokens.refresh_token),
    await refresh(test, client, "agr_x"),
    await tokenRequest(test, { grant_type: "nope" }, { client }),
    await rawTokenRequest(test, { headers: { "content-type": "text/plain" }, payload: "x" }),
    await test.app.inject({ method: "GET", url: "/oauth/token" }),
    await test.app.inject({ method: "POST", url: "/oauth/nothing-here" }),
  ];
  for (const res of responses) expectNoStore(t, res);
});
