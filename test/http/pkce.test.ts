// PKCE (RFC 7636) end to end: /oauth/authorize with an S256 challenge, consent
// through the admin API, the code exchanged at /oauth/token. S256 only, downgrade
// refused (RFC 9700 §2.1.1), public clients must use it. The verifier check itself,
// with RFC 7636 Appendix B's pair, is in test/unit/grants.test.ts.
import { createHash, randomBytes } from "node:crypto";
import type { Response as InjectResponse } from "light-my-request";
import t, { type Test } from "tap";
import { buildTestApp, createApp, type TestApp } from "../support/helper.js";

const ENV = { APPGRANT_CONSENT_URL: "https://platform.example/consent", APPGRANT_ISSUER: "https://auth.example" };
const CALLBACK = "https://app.example/callback";

type Client = { client_id: string; client_secret: string | null };

/** A fresh verifier and its S256 challenge, computed here independently of src/. */
function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** authorize → accept (account acme) → the code from redirect_to. */
async function authorizeAndAccept(t: Test, test: TestApp, client: Client, challenge: string | null): Promise<string> {
  const params: Record<string, string> = { response_type: "code", client_id: client.client_id, state: "st" };
  if (challenge !== null) Object.assign(params, { code_challenge: challenge, code_challenge_method: "S256" });
  const res = await test.app.inject({ method: "GET", url: `/oauth/authorize?${new URLSearchParams(params)}` });
  t.equal(res.statusCode, 302, res.body);
  const requestId = new URL(String(res.headers.location)).searchParams.get("request_id");
  if (requestId === null) throw new Error(`not sent to consent: ${res.headers.location}`);
  const accepted = await test.admin("POST", `/admin/v1/authorization-requests/${requestId}/accept`, { account: "acme" });
  if (accepted.statusCode !== 200) throw new Error(`accept: ${accepted.statusCode} ${accepted.body}`);
  const code = new URL(accepted.json().redirect_to).searchParams.get("code");
  if (code === null) throw new Error("no code");
  return code;
}

/** A token request: HTTP Basic for a confidential client, client_id alone for a public one. */
function tokenRequest(test: TestApp, client: Client, params: Record<string, string>): Promise<InjectResponse> {
  const body = { ...params };
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (client.client_secret !== null) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString("base64")}`;
  } else {
    body.client_id = client.client_id;
  }
  return test.app.inject({ method: "POST", url: "/oauth/token", headers, payload: new URLSearchParams(body).toString() });
}

const exchange = (test: TestApp, client: Client, code: string, verifier?: string) =>
  tokenRequest(test, client, { grant_type: "authorization_code", code, ...(verifier !== undefined ? { code_verifier: verifier } : {}) });

function expectError(t: Test, res: InjectResponse, error: string): void {
  t.equal(res.statusCode, 400, `${error} (${res.body})`);
  t.equal(res.json().error, error);
}

function expectTokens(t: Test, res: InjectResponse): { access_token: string; refresh_token: string } {
  t.equal(res.statusCode, 200, `tokens issued (${res.body})`);
  const body = res.json();
  t.match(body.access_token, /\S{40,}/);
  t.match(body.refresh_token, /\S{40,}/);
  return body;
}

t.test("a code issued with an S256 challenge is exchanged with the matching verifier", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const { verifier, challenge } = pkcePair();
  const code = await authorizeAndAccept(t, test, client, challenge);
  expectTokens(t, await exchange(test, client, code, verifier));
  expectError(t, await exchange(test, client, code, verifier), "invalid_grant");
});

const refusals: { name: string; verifier: (right: { verifier: string; challenge: string }) => string | undefined; error: string }[] = [
  { name: "no code_verifier", verifier: () => undefined, error: "invalid_grant" },
  { name: "the verifier of another flow", verifier: () => pkcePair().verifier, error: "invalid_grant" },
  {
    name: "the verifier with one character changed",
    verifier: ({ verifier }) => `${verifier.slice(0, -1)}${verifier.endsWith("A") ? "B" : "A"}`,
    error: "invalid_grant",
  },
  { name: "the challenge sent as verifier (plain)", verifier: ({ challenge }) => challenge, error: "invalid_grant" },
  { name: "a verifier shorter than 43 characters", verifier: ({ verifier }) => verifier.slice(0, 42), error: "invalid_request" },
  {
    name: "a verifier with characters outside the unreserved set",
    verifier: ({ verifier }) => `${verifier.slice(0, 42)}+/`,
    error: "invalid_request",
  },
];

for (const c of refusals) {
  t.test(`refuses ${c.name} (${c.error}); the code stays usable with the right verifier`, async (t) => {
    const test = await buildTestApp(t, ENV);
    const client = await createApp(test);
    const pair = pkcePair();
    const code = await authorizeAndAccept(t, test, client, pair.challenge);
    expectError(t, await exchange(test, client, code, c.verifier(pair)), c.error);
    expectTokens(t, await exchange(test, client, code, pair.verifier));
  });
}

t.test("a code_verifier sent for a code issued without a challenge is refused (downgrade)", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const code = await authorizeAndAccept(t, test, client, null);
  expectError(t, await exchange(test, client, code, pkcePair().verifier), "invalid_grant");
  // The refusal did not spend the code: without a verifier it is exchanged.
  expectTokens(t, await exchange(test, client, code));
});

t.test("a code issued by the admin installations API has no challenge and refuses a verifier", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test);
  const installed = await test.admin("POST", "/admin/v1/installations", { client_id: client.client_id, account: "acme" });
  const { code } = installed.json();
  expectError(t, await exchange(test, client, code, pkcePair().verifier), "invalid_grant");
  expectTokens(t, await exchange(test, client, code));
});

t.test("a public client completes the flow with PKCE and its client_id alone", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { client_type: "public" });
  t.equal(client.client_secret, null, "a public client has no secret");
  const { verifier, challenge } = pkcePair();
  const code = await authorizeAndAccept(t, test, client, challenge);

  expectError(t, await exchange(test, client, code), "invalid_grant");
  const tokens = expectTokens(t, await exchange(test, client, code, verifier));

  const refreshed = expectTokens(t, await tokenRequest(test, client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token }));
  t.not(refreshed.refresh_token, tokens.refresh_token, "the refresh token rotates");
});

t.test("a public client cannot start without PKCE nor authenticate with a secret", async (t) => {
  const test = await buildTestApp(t, ENV);
  const client = await createApp(test, { client_type: "public" });
  const res = await test.app.inject({
    method: "GET",
    url: `/oauth/authorize?${new URLSearchParams({ response_type: "code", client_id: client.client_id, redirect_uri: CALLBACK, state: "s" })}`,
  });
  t.equal(res.statusCode, 302);
  t.equal(new URL(String(res.headers.location)).searchParams.get("error"), "invalid_request");

  const { verifier, challenge } = pkcePair();
  const code = await authorizeAndAccept(t, test, client, challenge);
  const withSecret = await tokenRequest(test, client, { grant_type: "authorization_code", code, code_verifier: verifier, client_secret: "anything" });
  t.equal(withSecret.statusCode, 401);
  t.equal(withSecret.json().error, "invalid_client");
  expectTokens(t, await exchange(test, client, code, verifier));
});
