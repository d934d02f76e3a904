// Changes of an application's scopes reaching its installations (issue 13): a widening
// is a pending request each installation's owner accepts or rejects; a narrowing takes
// the removed scopes away at once from every installation, pending code and live token,
// and a refresh (even one racing the narrowing) cannot get them back.
import t, { type Test } from "tap";
import { type AppKey, assertionParams, clientAssertion, registerKey } from "../support/app-keys.js";
import { ADMIN_TOKEN, buildTestApp, type TestApp } from "../support/helper.js";
import {
  type ClientCredentials,
  exchange,
  expectError,
  expectTokens,
  formBody,
  newClient,
  newInstallation,
  refresh,
  tokenRequest,
} from "../support/oauth-helper.js";

interface Scene {
  test: TestApp;
  client: ClientCredentials & { id: string };
  key: AppKey;
}

async function scene(t: Test): Promise<Scene> {
  const test = await buildTestApp(t);
  const client = await newClient(test, {
    scopes: ["read", "write"],
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
    webhook_url: "https://app.example/hook",
  });
  return { test, client, key: await registerKey(test, client.id) };
}

const patchScopes = (s: Scene, scopes: string[]) => s.test.admin("PATCH", `/admin/v1/applications/${s.client.id}`, { scopes });
const answer = (s: Scene, id: string, what: "accept" | "reject") => s.test.admin("POST", `/admin/v1/installations/${id}/permissions/${what}`);
const show = async (s: Scene, id: string) => (await s.test.admin("GET", `/admin/v1/installations/${id}`)).json();

async function mint(s: Scene, installationId: string, scope?: string) {
  return tokenRequest(s.test, {
    grant_type: "client_credentials",
    installation_id: installationId,
    ...(scope !== undefined ? { scope } : {}),
    ...assertionParams(await clientAssertion(s.test, s.key, s.client.client_id)),
  });
}

async function introspect(test: TestApp, token: string) {
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    payload: formBody({ token }),
  });
  return res.json() as { active: boolean; scope?: string };
}

const events = (test: TestApp, type: string) => test.app.domain.db.event.findMany({ where: { type }, orderBy: { id: "asc" } });
const deliveries = (test: TestApp, type: string) => test.app.domain.db.webhookDelivery.findMany({ where: { type }, orderBy: { id: "asc" } });

t.test("widening: installations keep their scopes and get a request; accept grants it, reject drops it", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const full = await newInstallation(test, s.client, { scopes: ["read", "write"] });
  const partial = await newInstallation(test, s.client, { scopes: ["read"] });
  const pair = expectTokens(t, await exchange(test, s.client, full.code), { scope: "read write" });

  t.equal((await patchScopes(s, ["read", "write", "admin"])).statusCode, 200);
  t.match(await show(s, full.id), { scopes: ["read", "write"], pending_scopes: ["admin"] }, "the installation keeps its scopes");
  t.match(await show(s, partial.id), { scopes: ["read"], pending_scopes: ["admin"] }, "only what the application added is requested");
  const requested = await events(test, "installation.new_permissions_requested");
  t.same(
    requested.map((event) => event.installationId),
    [full.id, partial.id],
    "an event per installation",
  );
  t.match(JSON.parse(requested[0]!.data), { requested_scopes: ["admin"], installation: { id: full.id, pending_scopes: ["admin"] } });
  t.equal(requested[0]!.actorType, "admin");
  t.equal((await deliveries(test, "installation.new_permissions_requested")).length, 2, "and a webhook each");

  expectError(t, test, await refresh(test, s.client, pair.refresh_token, { scope: "read admin" }), "invalid_scope", 400);
  expectError(t, test, await mint(s, full.id, "admin"), "invalid_scope", 400);
  t.equal((await exchange(test, s.client, partial.code)).json().scope, "read", "a pending code grants what it granted");

  const accepted = await answer(s, full.id, "accept");
  t.equal(accepted.statusCode, 200, accepted.body);
  t.match(accepted.json(), { scopes: ["read", "write", "admin"], pending_scopes: [] });
  t.equal((await mint(s, full.id, "admin")).statusCode, 200, "the accepted scope can be issued now");
  t.match(JSON.parse((await events(test, "installation.new_permissions_accepted"))[0]!.data), { accepted_scopes: ["admin"] });
  t.equal((await deliveries(test, "installation.new_permissions_accepted")).length, 1);

  const rejected = await answer(s, partial.id, "reject");
  t.equal(rejected.statusCode, 200, rejected.body);
  t.match(rejected.json(), { scopes: ["read"], pending_scopes: [] });
  expectError(t, test, await mint(s, partial.id, "admin"), "invalid_scope", 400);
  t.equal((await events(test, "installation.new_permissions_rejected")).length, 1);
  t.equal((await deliveries(test, "installation.new_permissions_rejected")).length, 0, "a rejection is not sent to the application");

  t.equal((await answer(s, full.id, "accept")).statusCode, 409, "nothing pending: 409");
  t.equal((await answer(s, partial.id, "reject")).statusCode, 409);
  t.equal((await answer(s, "nope", "accept")).statusCode, 404);
  t.equal((await test.admin("DELETE", `/admin/v1/installations/${partial.id}`)).statusCode, 204);
  t.equal((await patchScopes(s, ["read", "write", "admin", "extra"])).statusCode, 200);
  t.match(await show(s, full.id), { pending_scopes: ["extra"] });
  t.match(await show(s, partial.id), { pending_scopes: [] }, "an uninstalled installation gets no request");
  t.equal((await answer(s, partial.id, "accept")).statusCode, 409, "nor can it answer one");
});

t.test("narrowing: every installation, pending code and live token loses the scope at once, and no refresh gets it back", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const installation = await newInstallation(test, s.client, { scopes: ["read", "write"] });
  const other = await newInstallation(test, s.client, { scopes: ["write"] });
  const pair = expectTokens(t, await exchange(test, s.client, installation.code), { scope: "read write" });
  const narrowPair = expectTokens(t, await refresh(test, s.client, pair.refresh_token, { scope: "write" }), { scope: "write" });
  const minted = (await mint(s, installation.id)).json().access_token as string;
  const pendingCode = (await test.admin("POST", `/admin/v1/installations/${installation.id}/code`)).json().code as string;
  t.equal((await patchScopes(s, ["read", "write", "extra"])).statusCode, 200, "a request for extra is pending");

  const res = await patchScopes(s, ["read"]);
  t.equal(res.statusCode, 200, res.body);
  t.match(await show(s, installation.id), { scopes: ["read"], pending_scopes: [] }, "the installation and its pending request shrink");
  t.match(await show(s, other.id), { scopes: [], pending_scopes: [] }, "an installation of only removed scopes keeps none");
  t.match(await introspect(test, narrowPair.access_token), { active: true, scope: "" });
  t.match(await introspect(test, minted), { active: true, scope: "read" }, "installation tokens too");
  const updated = (await events(test, "application.updated")).at(-1)!;
  t.match(JSON.parse(updated.data), { scopes: ["read"], narrowed: { installations: 2, codes: 2, tokens: 3 } });

  const refreshed = expectTokens(t, await refresh(test, s.client, narrowPair.refresh_token), { scope: "" });
  expectError(t, test, await refresh(test, s.client, refreshed.refresh_token, { scope: "write" }), "invalid_scope", 400);
  t.match(await introspect(test, refreshed.access_token), { active: true, scope: "" });
  expectTokens(t, await exchange(test, s.client, pendingCode), { scope: "read" });
  t.equal((await exchange(test, s.client, other.code)).json().scope, "", "the other installation's code lost its scope too");
  expectError(t, test, await mint(s, installation.id, "write"), "invalid_scope", 400);
  t.equal((await mint(s, installation.id)).json().scope, "read");
  t.equal(await test.app.domain.db.token.count({ where: { revokedAt: null, scopes: { contains: "write" } } }), 0, "no live token holds it");
});

t.test("widening and narrowing in one change: the removed scope goes, the added one is requested", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const installation = await newInstallation(test, s.client, { scopes: ["read", "write"] });
  t.equal((await patchScopes(s, ["read", "admin"])).statusCode, 200);
  t.match(await show(s, installation.id), { scopes: ["read"], pending_scopes: ["admin"] });
  t.equal((await answer(s, installation.id, "accept")).statusCode, 200);
  t.match(await show(s, installation.id), { scopes: ["read", "admin"], pending_scopes: [] });
});

t.test("refreshes racing a narrowing never keep the removed scope", async (t) => {
  const s = await scene(t);
  const { test } = s;
  const installation = await newInstallation(test, s.client, { scopes: ["read", "write"] });
  const pairs = [expectTokens(t, await exchange(test, s.client, installation.code))];
  for (let i = 1; i < 16; i++) {
    const code = (await test.admin("POST", `/admin/v1/installations/${installation.id}/code`)).json().code as string;
    pairs.push(expectTokens(t, await exchange(test, s.client, code)));
  }
  let answered = 0;
  let startNarrowing: () => void;
  const narrowed = new Promise<void>((resolve) => (startNarrowing = resolve)).then(() => patchScopes(s, ["read"]));
  const results = await Promise.all(
    pairs.map((pair) =>
      refresh(test, s.client, pair.refresh_token).then((res) => {
        if (++answered === 4) startNarrowing();
        return res;
      }),
    ),
  );
  t.equal((await narrowed).statusCode, 200);
  for (const res of results) {
    t.equal(res.statusCode, 200, "each refresh succeeds (a narrowed parent is read again and retried)");
    t.match(await introspect(test, res.json().access_token), { active: true, scope: "read" }, "and its token holds only what is left");
  }
  t.equal(await test.app.domain.db.token.count({ where: { revokedAt: null, scopes: { contains: "write" } } }), 0);
});
