// The refresh_token and authorization_code grants (src/oauth/grants/) on their own:
// handle(ctx) against an in-memory TokenStore and a fixed clock, no app, no database.
// The store keeps the conditions of the real stores' conditional writes (a rotation
// only of an unrotated, unrevoked, unexpired token whose scopes are the ones it was
// derived from; a code consumed once), so what is checked is what the grant decided:
// what it answered, and what it asked the store to write.
import t, { type Test } from "tap";
import { ServerKeys } from "../../src/crypto/server-keys.js";
import type { SecretHasher } from "../../src/crypto/secret-hasher.js";
import { generateCredential, sha256 } from "../../src/crypto/tokens.js";
import type { AuthenticatedClient } from "../../src/oauth/client-auth.js";
import { OAuthError } from "../../src/oauth/errors.js";
import type { GrantContext, GrantSettings } from "../../src/oauth/grant-type.js";
import { authorizationCode } from "../../src/oauth/grants/authorization-code.js";
import { refreshToken } from "../../src/oauth/grants/refresh-token.js";
import type { CodeRecord, NewToken, RevocationEvent, TokenLookup, TokenRecord, TokenStore } from "../../src/oauth/token-store.js";
import type { Logger } from "../../src/shared/logger.js";
import { addSeconds } from "../../src/shared/time.js";

const NOW = new Date("2030-01-01T00:00:00.000Z");
const SETTINGS: GrantSettings = {
  accessTokenLifetime: 3600,
  refreshTokenLifetime: 30 * 86400,
  refreshGracePeriod: 60,
  installationTokenLifetime: 3600,
};
const CLIENT: AuthenticatedClient = {
  id: "app_1",
  clientId: "client_1",
  clientType: "confidential",
  grantTypes: new Set(["authorization_code", "refresh_token"]),
  method: "client_secret_basic",
};
const PUBLIC_CLIENT: AuthenticatedClient = { ...CLIENT, clientType: "public", method: "none" };
const CALLBACK = "https://app.example/callback";
/** RFC 7636 Appendix B. */
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

interface Revocation {
  familyId: string;
  reason: string;
  event: RevocationEvent | undefined;
  revoked: number;
}

/** The TokenStore port in memory: records are copied in and out, as rows would be. */
class MemoryStore implements TokenStore {
  readonly codes = new Map<string, CodeRecord & { codeHash: string }>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly revocations: Revocation[] = [];

  async findCodeByHash(codeHash: string): Promise<CodeRecord | null> {
    const found = [...this.codes.values()].find((code) => code.codeHash === codeHash);
    if (!found) return null;
    const { codeHash: _, ...record } = structuredClone(found);
    return record;
  }

  async exchangeCode(codeId: string, now: Date, token: NewToken): Promise<boolean> {
    const code = this.codes.get(codeId);
    if (!code || code.consumedAt !== null || code.revokedAt !== null || code.expiresAt <= now || !code.installationActive) return false;
    if (code.scopes !== token.scopes) return false;
    code.consumedAt = now;
    this.insert(token, code);
    return true;
  }

  /** By selector (the row's id) and then its hash, or, for a token without one (the seeded ones), by hash alone. */
  async findTokenByRefresh(lookup: TokenLookup): Promise<TokenRecord | null> {
    const candidates =
      lookup.selector === null ? [...this.tokens.values()] : [this.tokens.get(lookup.selector)].filter((token) => token !== undefined);
    return this.copy(candidates.find((token) => token.refreshTokenHash === lookup.hash));
  }

  async findSuccessor(parentId: string): Promise<TokenRecord | null> {
    return this.copy([...this.tokens.values()].find((token) => token.parentId === parentId));
  }

  async rotate(parentId: string, now: Date, successor: NewToken, parentScopes: string): Promise<boolean> {
    const parent = this.tokens.get(parentId);
    if (!parent || parent.rotatedAt !== null || parent.revokedAt !== null || parent.refreshExpiresAt <= now) return false;
    if (!parent.installationActive || parent.scopes !== parentScopes) return false;
    parent.rotatedAt = now;
    this.insert(successor, parent);
    return true;
  }

  async revokeFamily(familyId: string, now: Date, reason: string, event?: RevocationEvent): Promise<number> {
    const live = [...this.tokens.values()].filter((token) => token.familyId === familyId && token.revokedAt === null);
    for (const token of live) token.revokedAt = now;
    this.revocations.push({ familyId, reason, event, revoked: live.length });
    return live.length;
  }

  // Not the grants' to call.
  findClient = notForGrants;
  findByAccess = notForGrants;
  findByRefresh = notForGrants;
  revokeToken = notForGrants;
  fillSecretLookupHash = notForGrants;
  ping = notForGrants;
  close = notForGrants;

  private insert(token: NewToken, from: { installationActive: boolean; installationSuspended: boolean }): void {
    if (this.tokens.has(token.id)) throw new Error(`token ${token.id} inserted twice`);
    this.tokens.set(token.id, {
      ...structuredClone(token),
      installationActive: from.installationActive,
      installationSuspended: from.installationSuspended,
      rotatedAt: null,
      revokedAt: null,
    });
  }

  private copy(token: TokenRecord | undefined): TokenRecord | null {
    return token ? structuredClone(token) : null;
  }

  /** The token rows whose parent is `parentId` (a rotation inserts exactly one). */
  successorsOf(parentId: string): TokenRecord[] {
    return [...this.tokens.values()].filter((token) => token.parentId === parentId);
  }
}

async function notForGrants(): Promise<never> {
  throw new Error("not a method the refresh_token and authorization_code grants use");
}

const quiet: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
const keys = new ServerKeys(["unit-test-server-key-0123456789abcdef"]);

function context(store: MemoryStore, params: Record<string, string>, options: { now?: Date; client?: AuthenticatedClient } = {}): GrantContext {
  return {
    client: options.client ?? CLIENT,
    params: new Map(Object.entries(params)),
    now: options.now ?? NOW,
    log: quiet,
    store,
    hasher: {} as SecretHasher, // the grants never hash a secret
    config: SETTINGS,
    secretKey: keys,
    request: { requestId: "req-1", sourceIp: "192.0.2.1" },
  };
}

let ids = 0;

/** A live first-generation token of CLIENT's application; returns its plaintext refresh token. */
function seedToken(store: MemoryStore, fields: Partial<TokenRecord> = {}): { refresh: string; token: TokenRecord } {
  const refresh = generateCredential("refreshToken");
  const id = `tok_${++ids}`;
  const token: TokenRecord = {
    id,
    accessTokenHash: sha256(generateCredential("accessToken")),
    refreshTokenHash: sha256(refresh),
    applicationId: CLIENT.id,
    installationId: "inst_1",
    clientId: CLIENT.clientId,
    account: "acme",
    codeId: "code_0",
    familyId: `fam_${id}`,
    generation: 1,
    parentId: null,
    scopes: "repo read:org",
    createdAt: addSeconds(NOW, -60),
    accessExpiresAt: addSeconds(NOW, 3540),
    refreshExpiresAt: addSeconds(NOW, 86400),
    installationActive: true,
    installationSuspended: false,
    rotatedAt: null,
    revokedAt: null,
    ...fields,
  };
  store.tokens.set(id, structuredClone(token));
  return { refresh, token };
}

/** An unconsumed code of CLIENT's application; returns its plaintext. */
function seedCode(store: MemoryStore, fields: Partial<CodeRecord> = {}): { code: string; record: CodeRecord } {
  const code = generateCredential("code");
  const record: CodeRecord = {
    id: `code_${++ids}`,
    applicationId: CLIENT.id,
    installationId: "inst_1",
    installationActive: true,
    installationSuspended: false,
    account: "acme",
    scopes: "repo",
    redirectUri: CALLBACK,
    codeChallenge: null,
    codeChallengeMethod: null,
    expiresAt: addSeconds(NOW, 600),
    consumedAt: null,
    revokedAt: null,
    ...fields,
  };
  store.codes.set(record.id, { ...record, codeHash: sha256(code) });
  return { code, record };
}

/** The grant refused with this RFC 6749 error (and a description matching, if given). */
async function refused(t: Test, attempt: Promise<unknown>, wanted: { error: string; description?: RegExp }, message?: string) {
  const caught = await attempt.then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(caught instanceof OAuthError, `${message ?? wanted.error}: refused with an OAuthError`);
  t.match(caught, wanted, message ?? wanted.error);
}

/** What a refusal must leave behind: nothing written. */
function snapshot(store: MemoryStore): string {
  return JSON.stringify({ codes: [...store.codes.values()], tokens: [...store.tokens.values()], revocations: store.revocations });
}

t.test("refresh_token", async (t) => {
  t.test("rotation: the parent is marked rotated, the successor is its family's next generation, the answer its pair", async (t) => {
    const store = new MemoryStore();
    const { refresh, token } = seedToken(store);
    const answer = await refreshToken.handle(context(store, { refresh_token: refresh }));

    t.same(store.tokens.get(token.id)!.rotatedAt, NOW, "the parent is rotated at the clock's time");
    const successors = store.successorsOf(token.id);
    t.equal(successors.length, 1, "one successor");
    const successor = successors[0]!;
    t.match(successor, {
      familyId: token.familyId,
      generation: 2,
      applicationId: token.applicationId,
      installationId: token.installationId,
      clientId: token.clientId,
      account: token.account,
      codeId: token.codeId,
      scopes: token.scopes,
    });
    t.same(successor.accessExpiresAt, addSeconds(NOW, SETTINGS.accessTokenLifetime));
    t.same(successor.refreshExpiresAt, addSeconds(NOW, SETTINGS.refreshTokenLifetime));
    t.not(answer.refresh_token, refresh, "a new refresh token");
    t.equal(successor.refreshTokenHash, sha256(answer.refresh_token!), "the answer's refresh token is the stored successor's");
    t.equal(successor.accessTokenHash, sha256(answer.access_token), "and so is its access token");
    t.match(answer, { token_type: "Bearer", expires_in: SETTINGS.accessTokenLifetime, scope: token.scopes, installation_id: token.installationId });

    const next = await refreshToken.handle(context(store, { refresh_token: answer.refresh_token! }, { now: addSeconds(NOW, 120) }));
    t.equal(store.successorsOf(successor.id)[0]?.generation, 3, "the successor rotates in turn");
    t.equal(store.successorsOf(successor.id)[0]?.refreshTokenHash, sha256(next.refresh_token!));
  });

  t.test("a rotated token presented after the grace period is reuse: the family is revoked and the grant refuses", async (t) => {
    const store = new MemoryStore();
    const { refresh, token } = seedToken(store);
    const other = seedToken(store, { familyId: "fam_other" });
    const first = await refreshToken.handle(context(store, { refresh_token: refresh }));

    const later = addSeconds(NOW, SETTINGS.refreshGracePeriod + 1);
    await refused(t, refreshToken.handle(context(store, { refresh_token: refresh }, { now: later })), { error: "invalid_grant" });
    t.equal(store.revocations.length, 1, "the grant asked the store to revoke once");
    t.match(store.revocations[0], {
      familyId: token.familyId,
      reason: "refresh_reused",
      event: {
        type: "token.refresh_reused",
        applicationId: token.applicationId,
        installationId: token.installationId,
        clientId: CLIENT.clientId,
        requestId: "req-1",
        sourceIp: "192.0.2.1",
        data: { token_id: token.id, family_id: token.familyId, generation: 1 },
      },
    });
    t.same(store.successorsOf(token.id)[0]!.revokedAt, later, "the successor the reuse did not present is revoked");
    t.equal(store.tokens.get(other.token.id)!.revokedAt, null, "another family is untouched");
    await refused(
      t,
      refreshToken.handle(context(store, { refresh_token: first.refresh_token! }, { now: later })),
      { error: "invalid_grant" },
      "nor does the successor work any more",
    );
  });

  t.test("within the grace period a retry is answered with the same successor; once the successor is used, it is reuse", async (t) => {
    const store = new MemoryStore();
    const { refresh, token } = seedToken(store);
    const first = await refreshToken.handle(context(store, { refresh_token: refresh }));
    const retry = await refreshToken.handle(context(store, { refresh_token: refresh }, { now: addSeconds(NOW, 10) }));
    t.same(retry, { ...first, expires_in: SETTINGS.accessTokenLifetime - 10 }, "the same pair, its remaining lifetime");
    t.equal(store.successorsOf(token.id).length, 1, "no second successor");
    t.same(store.revocations, [], "nothing revoked");

    await refreshToken.handle(context(store, { refresh_token: first.refresh_token! }, { now: addSeconds(NOW, 20) }));
    await refused(t, refreshToken.handle(context(store, { refresh_token: refresh }, { now: addSeconds(NOW, 30) })), { error: "invalid_grant" });
    t.equal(store.revocations.length, 1, "one revocation");
    t.match(store.revocations[0], { familyId: token.familyId, reason: "refresh_reused" }, "of the family");
    t.same(
      [...store.tokens.values()].map((row) => row.revokedAt),
      [addSeconds(NOW, 30), addSeconds(NOW, 30), addSeconds(NOW, 30)],
      "the parent, its successor and the successor's, all revoked",
    );
  });

  t.test("an unknown, malformed, or another client's refresh token is invalid_grant, said alike, and writes nothing", async (t) => {
    const store = new MemoryStore();
    const theirs = seedToken(store, { applicationId: "app_2", clientId: "client_2" });
    const before = snapshot(store);
    for (const [name, presented] of [
      ["unknown", generateCredential("refreshToken")],
      ["malformed", `${theirs.refresh.slice(0, -1)}${theirs.refresh.endsWith("0") ? "1" : "0"}`],
      ["another client's", theirs.refresh],
    ] as const) {
      await refused(
        t,
        refreshToken.handle(context(store, { refresh_token: presented })),
        { error: "invalid_grant", description: /^refresh token is invalid$/ },
        name,
      );
    }
    t.equal(snapshot(store), before, "no rotation, no revocation");
  });

  t.test("a revoked, expired, or suspended installation's token is refused, unrotated", async (t) => {
    const cases: [string, Partial<TokenRecord>, RegExp][] = [
      ["revoked", { revokedAt: addSeconds(NOW, -1) }, /revoked/],
      ["expired", { refreshExpiresAt: NOW }, /expired/],
      ["suspended", { installationActive: false, installationSuspended: true }, /suspended/],
    ];
    for (const [name, fields, description] of cases) {
      const store = new MemoryStore();
      const { refresh } = seedToken(store, fields);
      const before = snapshot(store);
      await refused(t, refreshToken.handle(context(store, { refresh_token: refresh })), { error: "invalid_grant", description }, name);
      t.equal(snapshot(store), before, `${name}: nothing written`);
    }
  });

  t.test("scope: a narrower set is granted to the successor; a wider one is invalid_scope and rotates nothing", async (t) => {
    const store = new MemoryStore();
    const { refresh, token } = seedToken(store, { scopes: "repo read:org" });
    const before = snapshot(store);
    await refused(
      t,
      refreshToken.handle(context(store, { refresh_token: refresh, scope: "repo admin:org" })),
      { error: "invalid_scope" },
      "widening",
    );
    t.equal(snapshot(store), before, "the refused widening rotated nothing");

    const narrowed = await refreshToken.handle(context(store, { refresh_token: refresh, scope: "read:org" }));
    t.equal(narrowed.scope, "read:org");
    t.equal(store.successorsOf(token.id)[0]?.scopes, "read:org", "the successor holds the narrowed scope");
    t.equal(store.tokens.get(token.id)!.scopes, "repo read:org", "the parent keeps its own");

    const successor = store.successorsOf(token.id)[0]!;
    await refused(
      t,
      refreshToken.handle(context(store, { refresh_token: narrowed.refresh_token!, scope: "repo" }, { now: addSeconds(NOW, 120) })),
      { error: "invalid_scope" },
      "a narrowed token cannot widen back to what its parent had",
    );
    t.equal(store.successorsOf(successor.id).length, 0);
  });
});

t.test("authorization_code", async (t) => {
  t.test("a code is exchanged once: consumed, and the first pair of a family named after it is stored", async (t) => {
    const store = new MemoryStore();
    const { code, record } = seedCode(store, { scopes: "repo read:org" });
    const answer = await authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK }));

    t.same(store.codes.get(record.id)!.consumedAt, NOW, "consumed at the clock's time");
    const issued = [...store.tokens.values()];
    t.equal(issued.length, 1, "one token pair stored");
    t.match(issued[0], {
      codeId: record.id,
      familyId: record.id,
      generation: 1,
      parentId: null,
      applicationId: CLIENT.id,
      clientId: CLIENT.clientId,
      installationId: record.installationId,
      account: record.account,
      scopes: "repo read:org",
    });
    t.equal(issued[0]!.accessTokenHash, sha256(answer.access_token));
    t.equal(issued[0]!.refreshTokenHash, sha256(answer.refresh_token!));
    t.match(answer, {
      token_type: "Bearer",
      expires_in: SETTINGS.accessTokenLifetime,
      scope: "repo read:org",
      installation_id: record.installationId,
    });

    await refused(t, authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK }, { now: addSeconds(NOW, 5) })), {
      error: "invalid_grant",
    });
    t.equal(store.revocations.length, 1, "the second use asks for one revocation");
    t.match(
      store.revocations[0],
      { familyId: record.id, reason: "code_reused", event: { type: "token.code_reused", clientId: CLIENT.clientId, data: { code_id: record.id } } },
      "of the family the code started",
    );
    t.same(store.tokens.get(issued[0]!.id)!.revokedAt, addSeconds(NOW, 5), "the pair the code gave is revoked");
  });

  t.test("redirect_uri must be the one the code was issued for; a refusal leaves the code usable", async (t) => {
    const store = new MemoryStore();
    const { code, record } = seedCode(store);
    const before = snapshot(store);
    for (const [name, params] of [
      ["missing", { code }],
      ["another", { code, redirect_uri: "https://app.example/other" }],
      ["a prefix", { code, redirect_uri: "https://app.example/call" }],
    ] as const) {
      await refused(t, authorizationCode.handle(context(store, params)), { error: "invalid_grant", description: /redirect_uri/ }, name);
    }
    t.equal(snapshot(store), before, "nothing consumed or issued");
    await authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK }));
    t.same(store.codes.get(record.id)!.consumedAt, NOW);
  });

  t.test("PKCE: the code_verifier must match the S256 challenge (RFC 7636 Appendix B's pair); refusals consume nothing", async (t) => {
    const store = new MemoryStore();
    const { code, record } = seedCode(store, { codeChallenge: RFC_CHALLENGE, codeChallengeMethod: "S256" });
    const before = snapshot(store);
    const refusals: [string, string | undefined, string][] = [
      ["no verifier", undefined, "invalid_grant"],
      ["another verifier", "A".repeat(43), "invalid_grant"],
      ["the verifier with one character changed", `${RFC_VERIFIER.slice(0, -1)}j`, "invalid_grant"],
      ["the challenge itself (plain)", RFC_CHALLENGE, "invalid_grant"],
      ["a verifier of 42 characters", RFC_VERIFIER.slice(0, 42), "invalid_request"],
    ];
    for (const [name, verifier, error] of refusals) {
      const params = { code, redirect_uri: CALLBACK, ...(verifier === undefined ? {} : { code_verifier: verifier }) };
      await refused(t, authorizationCode.handle(context(store, params)), { error }, name);
    }
    t.equal(snapshot(store), before, "nothing consumed or issued");
    await authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK, code_verifier: RFC_VERIFIER }));
    t.same(store.codes.get(record.id)!.consumedAt, NOW, "the matching verifier exchanges it");

    // A challenge stored with another method than S256 is never honoured, whatever it holds.
    const plain = seedCode(store, { codeChallenge: RFC_CHALLENGE, codeChallengeMethod: "plain" });
    await refused(
      t,
      authorizationCode.handle(context(store, { code: plain.code, redirect_uri: CALLBACK, code_verifier: RFC_VERIFIER })),
      {
        error: "invalid_grant",
      },
      "plain",
    );
    t.equal(store.codes.get(plain.record.id)!.consumedAt, null, "the plain code is not consumed");
  });

  t.test("PKCE: a verifier for a code issued without a challenge, or a public client without PKCE, is refused", async (t) => {
    const store = new MemoryStore();
    const { code } = seedCode(store);
    const before = snapshot(store);
    await refused(
      t,
      authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK, code_verifier: RFC_VERIFIER })),
      { error: "invalid_grant", description: /without a code_challenge/ },
      "downgrade",
    );
    await refused(
      t,
      authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK }, { client: PUBLIC_CLIENT })),
      { error: "invalid_grant", description: /public client/ },
      "public client",
    );
    t.equal(snapshot(store), before, "nothing consumed or issued");
  });

  t.test("an unknown, expired, revoked or another client's code is invalid_grant and writes nothing", async (t) => {
    const store = new MemoryStore();
    // Another client's code is described exactly like an unknown one.
    const codes: [string, string, RegExp][] = [
      ["unknown", generateCredential("code"), /^authorization code is invalid$/],
      ["another client's", seedCode(store, { applicationId: "app_2" }).code, /^authorization code is invalid$/],
      ["expired", seedCode(store, { expiresAt: NOW }).code, /expired/],
      ["revoked", seedCode(store, { revokedAt: addSeconds(NOW, -1) }).code, /revoked/],
      ["suspended", seedCode(store, { installationActive: false, installationSuspended: true }).code, /suspended/],
    ];
    const before = snapshot(store);
    for (const [name, code, description] of codes) {
      await refused(t, authorizationCode.handle(context(store, { code, redirect_uri: CALLBACK })), { error: "invalid_grant", description }, name);
    }
    t.equal(snapshot(store), before, "nothing consumed, issued or revoked");
  });
});
