// Helpers for the /oauth/token tests: build token requests the way a client would
// (HTTP Basic with form-urlencoded credentials, client_secret_post, JSON or form
// bodies), check the RFC 6749 §5.1/§5.2 response shapes, and remember every secret
// a scenario handled so a test can prove none of them reached the logs.
import type { InjectOptions } from "fastify";
import type { Response as InjectResponse } from "light-my-request";
import type { Test } from "tap";
import { credentialSelector, generateCredential, sha256 } from "../../src/crypto/tokens.js";
import { newId } from "../../src/shared/ids.js";
import { s256 } from "../../src/oauth/pkce.js";
import { ADMIN_TOKEN, createApp, install, type TestApp } from "./helper.js";

export interface ClientCredentials {
  client_id: string;
  client_secret: string | null;
}

export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
  installation_id: string;
}

/** Every credential a scenario has seen, per test app: nothing of it may be logged. */
const issued = new WeakMap<TestApp, Set<string>>();

export function remember(test: TestApp, ...values: (string | null | undefined)[]): void {
  let set = issued.get(test);
  if (!set) {
    set = new Set();
    issued.set(test, set);
  }
  for (const value of values) if (value) set.add(value);
}

export function issuedSecrets(test: TestApp): string[] {
  return [...(issued.get(test) ?? [])];
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B). */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

/** client_secret_basic: id and secret form-urlencoded, then joined and base64-encoded (RFC 6749 §2.3.1). */
export function basic(clientId: string, secret: string, encode: (value: string) => string = formEncode): string {
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString("base64")}`;
}

export type AuthMethod = "basic" | "post" | "none";

export interface TokenRequestOptions {
  /** The client that authenticates; none when omitted. */
  client?: ClientCredentials;
  /** How it authenticates; default basic for a client with a secret, otherwise client_id in the body. */
  auth?: AuthMethod;
  /** Default form. */
  contentType?: "form" | "json";
  /** Extra or overriding headers (e.g. a hand-made Authorization). */
  headers?: Record<string, string>;
}

export function formBody(params: Record<string, string> | [string, string][]): string {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return pairs.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join("&");
}

/** POST /oauth/token with `params`, authenticated as `options.client` by `options.auth`. */
export function tokenRequest(test: TestApp, params: Record<string, string>, options: TokenRequestOptions = {}): Promise<InjectResponse> {
  const body: Record<string, string> = { ...params };
  const headers: Record<string, string> = {};
  const { client } = options;
  if (client) {
    const auth = options.auth ?? (client.client_secret ? "basic" : "none");
    if (auth === "basic") headers.authorization = basic(client.client_id, client.client_secret ?? "");
    if (auth === "post") {
      body.client_id = client.client_id;
      if (client.client_secret) body.client_secret = client.client_secret;
    }
    if (auth === "none") body.client_id = client.client_id;
  }
  const json = options.contentType === "json";
  headers["content-type"] = json ? "application/json" : "application/x-www-form-urlencoded";
  Object.assign(headers, options.headers);
  return test.app.inject({ method: "POST", url: "/oauth/token", headers, payload: json ? JSON.stringify(body) : formBody(body) });
}

/** A raw request to the token endpoint (wrong content types, methods, hand-made bodies). */
export function rawTokenRequest(test: TestApp, options: Omit<InjectOptions, "url">): Promise<InjectResponse> {
  return test.app.inject({ method: "POST", ...options, url: "/oauth/token" });
}

export async function exchange(
  test: TestApp,
  client: ClientCredentials,
  code: string,
  extra: Record<string, string> = {},
  options: Omit<TokenRequestOptions, "client"> = {},
): Promise<InjectResponse> {
  const res = await tokenRequest(test, { grant_type: "authorization_code", code, ...extra }, { client, ...options });
  rememberResponse(test, res);
  return res;
}

export async function refresh(
  test: TestApp,
  client: ClientCredentials,
  refreshToken: string,
  extra: Record<string, string> = {},
  options: Omit<TokenRequestOptions, "client"> = {},
): Promise<InjectResponse> {
  const res = await tokenRequest(test, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra }, { client, ...options });
  rememberResponse(test, res);
  return res;
}

function rememberResponse(test: TestApp, res: InjectResponse): void {
  if (res.statusCode !== 200) return;
  const body = res.json() as Partial<TokenBody>;
  remember(test, body.access_token, body.refresh_token);
}

/** An application (confidential unless body says otherwise), its secret remembered. */
export async function newClient(
  test: TestApp,
  body: Record<string, unknown> = {},
): Promise<ClientCredentials & { id: string; [key: string]: unknown }> {
  const created = await createApp(test, body);
  remember(test, created.client_secret);
  return created;
}

/** An installation of `client` and its authorization code (remembered). */
export async function newInstallation(test: TestApp, client: ClientCredentials, body: Record<string, unknown> = {}) {
  const installed = await install(test, client.client_id, { account: `account-${Math.random().toString(36).slice(2)}`, ...body });
  remember(test, installed.code);
  return installed;
}

export interface Setup {
  client: ClientCredentials & { id: string };
  installation: { id: string; code: string };
  tokens: TokenBody;
}

/** An application, an installation, and the token pair its code was exchanged for. */
export async function setup(test: TestApp, options: { app?: Record<string, unknown>; install?: Record<string, unknown> } = {}): Promise<Setup> {
  const client = await newClient(test, options.app);
  const installation = await newInstallation(test, client, options.install);
  // A public client may exchange only a PKCE-bound code: give it one.
  const verifier = "pkce-verifier-".padEnd(43, "x");
  const res =
    client.client_secret === null
      ? await exchange(test, client, await directCode(test, installation.id, { codeChallenge: s256(verifier), codeChallengeMethod: "S256" }), {
          code_verifier: verifier,
        })
      : await exchange(test, client, installation.code);
  if (res.statusCode !== 200) throw new Error(`setup: code exchange answered ${res.statusCode} ${res.body}`);
  return { client, installation, tokens: res.json() };
}

const INTERNAL_TEXT = /\bat .+:\d+|Error:|SQLITE|prisma|\/src\/|\.ts\b|undefined|null|\[object/i;

/** RFC 6749 §5.1: no caching of any token endpoint response. */
export function expectNoStore(t: Test, res: InjectResponse): void {
  t.equal(res.headers["cache-control"], "no-store", "Cache-Control: no-store");
  t.equal(res.headers.pragma, "no-cache", "Pragma: no-cache");
}

/**
 * An RFC 6749 §5.2 error: the status, exactly {error, error_description}, no-store
 * headers, and a description free of internal text and of every credential the
 * scenario has handled (`also`: values sent in this request that the helper could
 * not have seen, e.g. a forged token).
 */
export function expectError(
  t: Test,
  test: TestApp,
  res: InjectResponse,
  error: string,
  status: number,
  also: string[] = [],
): { error: string; error_description: string } {
  t.equal(res.statusCode, status, `${error} answers ${status}`);
  const body = res.json() as { error: string; error_description: string };
  t.equal(body.error, error, `error is ${error} (${body.error_description})`);
  t.same(Object.keys(body).sort(), ["error", "error_description"], "the error body is {error, error_description}");
  t.type(body.error_description, "string");
  t.notMatch(body.error_description, INTERNAL_TEXT, "error_description carries no internal detail");
  for (const secret of [...issuedSecrets(test), ...also]) {
    if (body.error_description.includes(secret)) t.fail("error_description contains a credential");
  }
  expectNoStore(t, res);
  return body;
}

/** A successful token response (RFC 6749 §5.1) with appgrant's fields. */
export function expectTokens(t: Test, res: InjectResponse, expected: { scope?: string; installation_id?: string } = {}): TokenBody {
  t.equal(res.statusCode, 200, `token request succeeds (${res.statusCode === 200 ? "" : res.body})`);
  const body = res.json() as TokenBody;
  t.same(
    Object.keys(body).sort(),
    ["access_token", "expires_in", "installation_id", "refresh_token", "scope", "token_type"],
    "exactly the documented fields",
  );
  t.match(body.access_token, /^aga_[0-9A-Za-z]{71}$/, "access token: aga_ prefix, 22 (selector) + 43 + 6 base62 characters");
  t.match(body.refresh_token, /^agr_[0-9A-Za-z]{71}$/, "refresh token: agr_ prefix, 22 (selector) + 43 + 6 base62 characters");
  t.equal(body.token_type, "Bearer");
  t.type(body.expires_in, "number");
  t.type(body.scope, "string");
  t.type(body.installation_id, "string");
  if (expected.scope !== undefined) t.equal(body.scope, expected.scope, "scope");
  if (expected.installation_id !== undefined) t.equal(body.installation_id, expected.installation_id, "installation_id");
  expectNoStore(t, res);
  return body;
}

/** Fails for every remembered credential that appears in a captured log line. */
export function expectNothingSecretLogged(t: Test, test: TestApp): void {
  const secrets = issuedSecrets(test);
  t.ok(secrets.length > 0, "the scenario handled credentials");
  const leaked = secrets.filter((secret) => test.logs.some((line) => line.includes(secret)));
  t.same(
    leaked.map((secret) => `${secret.slice(0, 4)}…`),
    [],
    "no log line contains a token, code or client secret",
  );
}

/**
 * The stored row of a token pair, found the way the server finds it: by the selector its
 * refresh token carries (a token issued before selectors: by its hash in LegacyTokenHash),
 * if the stored hash is the token's.
 */
export async function tokenRow(test: TestApp, refreshToken: string) {
  const selector = credentialSelector("refreshToken", refreshToken);
  const hash = sha256(refreshToken);
  const row = await test.app.domain.db.token.findFirstOrThrow({ where: selector === null ? { legacyHashes: { some: { hash } } } : { id: selector } });
  if (row.refreshTokenHash !== hash) throw new Error("the row the refresh token names holds another refresh token");
  return row;
}

/** Whether the platform's resource servers would accept `token` now (RFC 7662 introspection with the admin bearer). */
export async function isActive(test: TestApp, token: string): Promise<boolean> {
  const res = await test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    payload: formBody({ token }),
  });
  if (res.statusCode !== 200) throw new Error(`introspection answered ${res.statusCode} ${res.body}`);
  return (res.json() as { active: boolean }).active;
}

/**
 * Makes every insert into "Token" fail inside the database (SQLite or PostgreSQL),
 * as a full disk or a lost connection would; returns the function that undoes it.
 */
export async function failTokenInserts(test: TestApp, message: string): Promise<() => Promise<void>> {
  const db = test.app.domain.db;
  if (test.config.database.kind === "sqlite") {
    await db.$executeRawUnsafe(`CREATE TRIGGER fail_token_insert BEFORE INSERT ON "Token" BEGIN SELECT RAISE(ABORT, '${message}'); END`);
    return async () => void (await db.$executeRawUnsafe(`DROP TRIGGER fail_token_insert`));
  }
  await db.$executeRawUnsafe(`CREATE FUNCTION fail_token_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$`);
  await db.$executeRawUnsafe(`CREATE TRIGGER fail_token_insert BEFORE INSERT ON "Token" FOR EACH ROW EXECUTE FUNCTION fail_token_insert()`);
  return async () => {
    await db.$executeRawUnsafe(`DROP TRIGGER fail_token_insert ON "Token"`);
    await db.$executeRawUnsafe(`DROP FUNCTION fail_token_insert()`);
  };
}

/** A code written straight into the database, for bindings the admin API does not set (redirect_uri, PKCE). */
export async function directCode(
  test: TestApp,
  installationId: string,
  fields: { redirectUri?: string; codeChallenge?: string; codeChallengeMethod?: string; scopes?: string } = {},
): Promise<string> {
  const installation = await test.app.domain.db.installation.findUniqueOrThrow({ where: { id: installationId } });
  const code = generateCredential("code");
  remember(test, code);
  const now = test.clock();
  await test.app.domain.db.authorizationCode.create({
    data: {
      id: newId(now.getTime()),
      codeHash: sha256(code),
      applicationId: installation.applicationId,
      installationId,
      scopes: fields.scopes ?? installation.scopes,
      redirectUri: fields.redirectUri ?? null,
      codeChallenge: fields.codeChallenge ?? null,
      codeChallengeMethod: fields.codeChallengeMethod ?? null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 600_000),
    },
  });
  return code;
}
