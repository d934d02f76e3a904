// The GitHub-compatible installation token endpoint (issue 11): an app JWT as GitHub
// defines it (RS256 or ES256, iss = client_id, iat, exp ≤ 10 minutes after iat, no aud
// or jti required), GitHub's paths, 201 bodies and {message} errors; the token is the
// one client_credentials mints (introspected and revoked alike).
import { randomUUID } from "node:crypto";
import t, { type Test } from "tap";
import { ADMIN_TOKEN, buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import { type AppKey, clientAssertion, registerKey, unregisteredKey } from "../support/app-keys.js";

interface Setup {
  test: TestApp;
  app: { id: string; client_id: string };
  key: AppKey;
  installationId: string;
}

async function setup(t: Test, alg = "RS256", test?: TestApp): Promise<Setup> {
  test ??= await buildTestApp(t);
  const app = (await createApp(test, {
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    scopes: ["read", "write"],
  })) as Setup["app"];
  const key = await registerKey(test, app.id, alg);
  const installed = await install(test, app.client_id, { account: "acme", scopes: ["read", "write"] });
  return { test, app, key, installationId: installed.id };
}

/** GitHub's app JWT: iss, iat (60 s in the past, as GitHub advises), exp; no sub, aud or jti. */
const appJwt = (s: Setup, claims: Record<string, unknown> = {}, key: AppKey = s.key) => {
  const now = Math.floor(s.test.clock().getTime() / 1000);
  return clientAssertion(s.test, key, s.app.client_id, {
    claims: { sub: undefined, aud: undefined, jti: undefined, iat: now - 60, exp: now + 540, ...claims },
  });
};

function mint(s: Setup, jwt: string, body?: unknown, installationId = s.installationId) {
  return s.test.app.inject({
    method: "POST",
    url: `/app/installations/${installationId}/access_tokens`,
    headers: {
      authorization: `Bearer ${jwt}`,
      accept: "application/vnd.github+json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

t.test("an app JWT mints an installation token (RS256 and ES256), with or without a body", async (t) => {
  for (const alg of ["RS256", "ES256"]) {
    const s = await setup(t, alg);
    const res = await mint(s, await appJwt(s));
    t.equal(res.statusCode, 201, `${alg}: ${res.body}`);
    t.equal(res.headers["cache-control"], "no-store");
    const body = res.json() as { token: string; expires_at: string; scopes: string[]; installation_id: string };
    t.match(body.token, /^agi_/);
    t.same(
      { ...body, token: "…" },
      {
        token: "…",
        expires_at: new Date(s.test.clock().getTime() + 3600_000).toISOString(),
        scopes: ["read", "write"],
        installation_id: s.installationId,
      },
    );
    const narrowed = await mint(s, await appJwt(s), { scopes: ["read"] });
    t.equal(narrowed.statusCode, 201);
    t.same(narrowed.json().scopes, ["read"]);
    const empty = await s.test.app.inject({
      method: "POST",
      url: `/app/installations/${s.installationId}/access_tokens`,
      headers: { authorization: `Bearer ${await appJwt(s)}`, "content-type": "application/json" },
      payload: "",
    });
    t.equal(empty.statusCode, 201, "an empty JSON body (Octokit's) means every scope");

    const introspected = await s.test.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      payload: `token=${body.token}`,
    });
    t.match(introspected.json(), { active: true, installation_id: s.installationId, client_id: s.app.client_id, scope: "read write" });
  }
});

t.test("GET /app/installations lists the app's active installations", async (t) => {
  const s = await setup(t);
  const second = await install(s.test, s.app.client_id, { account: "globex", scopes: ["read"] });
  const gone = await install(s.test, s.app.client_id, { account: "initech", scopes: ["read"] });
  await s.test.admin("DELETE", `/admin/v1/installations/${gone.id}`);
  const other = await setup(t, "RS256", s.test);
  const list = async (query = "") =>
    s.test.app.inject({ method: "GET", url: `/app/installations${query}`, headers: { authorization: `Bearer ${await appJwt(s)}` } });
  const res = await list();
  t.equal(res.statusCode, 200);
  const items = res.json() as { id: string; account: string; scopes: string[]; created_at: string }[];
  t.same(
    items.map((i) => [i.id, i.account, i.scopes]),
    [
      [s.installationId, "acme", ["read", "write"]],
      [second.id, "globex", ["read"]],
    ],
    "active ones only, never another app's",
  );
  t.notOk(items.some((i) => i.id === other.installationId));
  t.same(
    ((await list("?per_page=1&page=2")).json() as { id: string }[]).map((i) => i.id),
    [second.id],
  );
  t.equal((await list("?per_page=0")).statusCode, 422);
});

t.test("refusals in GitHub's shape: 401, 403, 404, 422", async (t) => {
  const s = await setup(t);
  const now = Math.floor(s.test.clock().getTime() / 1000);
  const stranger = await unregisteredKey("RS256");
  const jti = randomUUID();
  t.equal((await mint(s, await appJwt(s, { jti }))).statusCode, 201, "a jti, when present…");
  const cases: [string, () => Promise<{ statusCode: number; json(): unknown }>, number, RegExp][] = [
    [
      "no Authorization",
      () => s.test.app.inject({ method: "POST", url: `/app/installations/${s.installationId}/access_tokens` }),
      401,
      /JSON web token is required/,
    ],
    ["expired", async () => mint(s, await appJwt(s, { iat: now - 700, exp: now - 100 })), 401, /expired/],
    ["lives over 10 minutes", async () => mint(s, await appJwt(s, { iat: now, exp: now + 660 })), 401, /at most 10 minutes/],
    ["no iat", async () => mint(s, await appJwt(s, { iat: undefined })), 401, /needs an iat/],
    ["iat in the future", async () => mint(s, await appJwt(s, { iat: now + 120, exp: now + 300 })), 401, /iat is in the future/],
    ["…is single-use", async () => mint(s, await appJwt(s, { jti })), 401, /jti has already been used/],
    ["a stranger's key", async () => mint(s, await appJwt(s, {}, { ...stranger, kid: s.key.kid })), 401, /signature does not verify/],
    ["unknown iss", async () => mint(s, await appJwt(s, { iss: "nobody" })), 401, /not a known application/],
    [
      "another app's installation",
      async () => mint(s, await appJwt(s), undefined, (await setup(t, "RS256", s.test)).installationId),
      404,
      /^Not Found$/,
    ],
    ["a wider scope", async () => mint(s, await appJwt(s), { scopes: ["admin"] }), 422, /exceeds the installation's scopes/],
    ["scopes not an array", async () => mint(s, await appJwt(s), { scopes: "read" }), 422, /array of scope names/],
    [
      "bad JSON",
      async () =>
        s.test.app.inject({
          method: "POST",
          url: `/app/installations/${s.installationId}/access_tokens`,
          headers: { authorization: `Bearer ${await appJwt(s)}`, "content-type": "application/json" },
          payload: "{",
        }),
      400,
      /Problems parsing JSON/,
    ],
  ];
  const before = await s.test.app.domain.db.token.count();
  for (const [name, request, status, message] of cases) {
    const res = await request();
    t.equal(res.statusCode, status, name);
    t.match(res.json(), { message }, name);
  }
  t.equal(await s.test.app.domain.db.token.count(), before, "no refusal issued a token");

  const plain = (await createApp(s.test, { scopes: ["read"] })) as Setup["app"];
  const plainKey = await registerKey(s.test, plain.id, "RS256");
  const plainInstall = await install(s.test, plain.client_id, { account: "acme", scopes: ["read"] });
  const notEnabled = await mint(
    { ...s, app: plain, key: plainKey, installationId: plainInstall.id },
    await appJwt({ ...s, app: plain, key: plainKey }),
  );
  t.equal(notEnabled.statusCode, 403, "client_credentials not in grant_types");
  t.match(notEnabled.json(), { message: /not enabled/ });
});

t.test("an uninstalled installation is refused: 404, nothing minted, its tokens revoked; a new installation mints again", async (t) => {
  const s = await setup(t);
  const earlier = await mint(s, await appJwt(s));
  t.equal(earlier.statusCode, 201, earlier.body);
  t.equal((await s.test.admin("DELETE", `/admin/v1/installations/${s.installationId}`)).statusCode, 204);

  const before = await s.test.app.domain.db.token.count();
  const refused = await mint(s, await appJwt(s));
  t.equal(refused.statusCode, 404, "uninstalled: GitHub's 404");
  t.match(refused.json(), { message: "Not Found" });
  t.notOk(refused.body.includes("agi_"), "no token in the answer");
  t.equal(await s.test.app.domain.db.token.count(), before, "nothing stored");
  const introspected = await s.test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    payload: `token=${earlier.json().token}`,
  });
  t.same(introspected.json(), { active: false }, "the token minted before the uninstall is revoked");

  const reinstalled = await install(s.test, s.app.client_id, { account: "acme", scopes: ["read"] });
  const again = await mint(s, await appJwt(s), undefined, reinstalled.id);
  t.equal(again.statusCode, 201, "the same app JWT rules mint for the new installation");
  t.same(again.json().scopes, ["read"]);
});

t.test("APPGRANT_INSTALLATION_TOKEN_LIFETIME sets expires_at", async (t) => {
  const s = await setup(t, "ES256", await buildTestApp(t, { APPGRANT_INSTALLATION_TOKEN_LIFETIME: "900" }));
  const res = await mint(s, await appJwt(s));
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().expires_at, new Date(s.test.clock().getTime() + 900_000).toISOString(), "15 minutes, not an hour");
});
