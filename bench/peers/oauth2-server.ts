// @node-oauth/oauth2-server 5 behind Fastify 5 + @fastify/formbody (appgrant's stack),
// in memory (Maps keyed by the plaintext token, as the library's in-memory examples keep
// them, but without their linear scans) or on a durable SQLite store written for the bench
// (SHA-256 hashes of tokens, codes and the client secret at rest; appgrant's WAL settings).
//
//   POST /oauth/token       authorization_code and refresh_token (rotated: revokeToken
//                           then saveToken), client_secret_basic
//   POST /oauth/introspect  the library has no introspection: the caller authenticates as
//                           the client (getClient), then authenticate() validates the
//                           access token, the library's "validate an access token"
//   GET  /healthz
//
// env: PORT, PEER_STORE=memory|sqlite, PEER_DATABASE (file), PEER_SEED (seed file)
import formbody from "@fastify/formbody";
import OAuth2Server from "@node-oauth/oauth2-server";
import Fastify from "fastify";
import {
  ACCESS_TTL,
  basicCredentials,
  CLIENT_ID,
  CLIENT_SECRET,
  openSqlite,
  REFRESH_TTL,
  type SeedFile,
  SCOPE,
  peerEnv,
  safeEqual,
  sha256,
} from "./common.js";

type Model = OAuth2Server.RefreshTokenModel & OAuth2Server.AuthorizationCodeModel;
type Token = OAuth2Server.Token;

const grants = ["authorization_code", "refresh_token"];
const client: OAuth2Server.Client = { id: CLIENT_ID, grants };
const scopes = SCOPE.split(" ");
const later = (seconds: number) => new Date(Date.now() + seconds * 1000);

function memoryModel(seed: SeedFile): Model {
  const accessTokens = new Map<string, Token>();
  const refreshTokens = new Map<string, Token>();
  const codes = new Map<string, OAuth2Server.AuthorizationCode>();
  const model: Model = {
    getClient: async (id, secret) => (safeEqual(id, CLIENT_ID) && safeEqual(secret, CLIENT_SECRET) ? client : false),
    saveToken: async (token, tokenClient, user) => {
      const saved = { ...token, client: tokenClient, user };
      accessTokens.set(token.accessToken, saved);
      if (token.refreshToken) refreshTokens.set(token.refreshToken, saved);
      return saved;
    },
    getAccessToken: async (accessToken) => accessTokens.get(accessToken),
    getRefreshToken: async (refreshToken) => {
      const token = refreshTokens.get(refreshToken);
      return token?.refreshToken ? { ...token, refreshToken: token.refreshToken } : undefined;
    },
    revokeToken: async (token) => refreshTokens.delete(token.refreshToken),
    getAuthorizationCode: async (code) => codes.get(code),
    saveAuthorizationCode: async (code, codeClient, user) => {
      const saved = { ...code, client: codeClient, user };
      codes.set(code.authorizationCode, saved);
      return saved;
    },
    revokeAuthorizationCode: async (code) => codes.delete(code.authorizationCode),
  };
  seed.refreshTokens.forEach((refreshToken, i) => {
    const user = { id: `user-${i}` };
    const access = { accessToken: `seed-access-${refreshToken}`, accessTokenExpiresAt: later(ACCESS_TTL), scope: scopes, client, user };
    void model.saveToken({ ...access, refreshToken, refreshTokenExpiresAt: later(REFRESH_TTL) }, client, user);
  });
  seed.accessTokens.forEach((accessToken, i) => {
    const user = { id: `reader-${i}` };
    void model.saveToken({ accessToken, accessTokenExpiresAt: later(ACCESS_TTL), scope: scopes, client, user }, client, user);
  });
  seed.codes.forEach((authorizationCode, i) => {
    void model.saveAuthorizationCode({ authorizationCode, expiresAt: later(600), redirectUri: "", scope: scopes }, client, { id: `coder-${i}` });
  });
  return model;
}

interface TokenRow {
  access_expires: number;
  refresh_expires: number | null;
  scope: string;
  user_id: string;
}

/**
 * Durable: one row per token pair, found by the SHA-256 of the presented token. A
 * rotation is the library's two calls, two commits: revokeToken (a conditional UPDATE:
 * only one of two concurrent uses of a refresh token wins) then saveToken (an INSERT).
 */
function sqliteModel(path: string, seed: SeedFile): Model {
  const db = openSqlite(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS client (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, grants TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS token (
      id INTEGER PRIMARY KEY,
      access_hash TEXT NOT NULL UNIQUE,
      access_expires INTEGER NOT NULL,
      refresh_hash TEXT UNIQUE,
      refresh_expires INTEGER,
      scope TEXT NOT NULL,
      client_id TEXT NOT NULL,
      user_id TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS code (
      code_hash TEXT PRIMARY KEY,
      expires INTEGER NOT NULL,
      redirect_uri TEXT NOT NULL,
      scope TEXT NOT NULL,
      client_id TEXT NOT NULL,
      user_id TEXT NOT NULL
    );
  `);
  const selectClient = db.prepare<[string], { secret_hash: string; grants: string }>("SELECT secret_hash, grants FROM client WHERE id = ?");
  const insertToken = db.prepare(
    "INSERT INTO token (access_hash, access_expires, refresh_hash, refresh_expires, scope, client_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const byAccess = db.prepare<[string], TokenRow>("SELECT access_expires, refresh_expires, scope, user_id FROM token WHERE access_hash = ?");
  const byRefresh = db.prepare<[string], TokenRow>("SELECT access_expires, refresh_expires, scope, user_id FROM token WHERE refresh_hash = ?");
  const revoke = db.prepare("UPDATE token SET refresh_hash = NULL WHERE refresh_hash = ?");
  const insertCode = db.prepare("INSERT INTO code (code_hash, expires, redirect_uri, scope, client_id, user_id) VALUES (?, ?, ?, ?, ?, ?)");
  const byCode = db.prepare<[string], { expires: number; redirect_uri: string; scope: string; user_id: string }>(
    "SELECT expires, redirect_uri, scope, user_id FROM code WHERE code_hash = ?",
  );
  const deleteCode = db.prepare("DELETE FROM code WHERE code_hash = ?");

  const saveToken = (token: Omit<Token, "client" | "user">, user: OAuth2Server.User) => {
    insertToken.run(
      sha256(token.accessToken),
      token.accessTokenExpiresAt!.getTime(),
      token.refreshToken ? sha256(token.refreshToken) : null,
      token.refreshTokenExpiresAt?.getTime() ?? null,
      (token.scope ?? []).join(" "),
      CLIENT_ID,
      user.id,
    );
  };
  const model: Model = {
    getClient: async (id, secret) => {
      const row = selectClient.get(id);
      if (!row || !safeEqual(sha256(secret), row.secret_hash)) return false;
      return { id, grants: row.grants.split(" ") };
    },
    saveToken: async (token, tokenClient, user) => {
      saveToken(token, user);
      return { ...token, client: tokenClient, user };
    },
    getAccessToken: async (accessToken) => {
      const row = byAccess.get(sha256(accessToken));
      if (!row) return undefined;
      return { accessToken, accessTokenExpiresAt: new Date(row.access_expires), scope: row.scope.split(" "), client, user: { id: row.user_id } };
    },
    getRefreshToken: async (refreshToken) => {
      const row = byRefresh.get(sha256(refreshToken));
      if (!row || row.refresh_expires === null) return undefined;
      return { refreshToken, refreshTokenExpiresAt: new Date(row.refresh_expires), scope: row.scope.split(" "), client, user: { id: row.user_id } };
    },
    revokeToken: async (token) => revoke.run(sha256(token.refreshToken)).changes === 1,
    getAuthorizationCode: async (authorizationCode) => {
      const row = byCode.get(sha256(authorizationCode));
      if (!row) return undefined;
      return {
        authorizationCode,
        expiresAt: new Date(row.expires),
        redirectUri: row.redirect_uri,
        scope: row.scope.split(" "),
        client,
        user: { id: row.user_id },
      };
    },
    saveAuthorizationCode: async (code, codeClient, user) => {
      insertCode.run(sha256(code.authorizationCode), code.expiresAt.getTime(), code.redirectUri, (code.scope ?? []).join(" "), CLIENT_ID, user.id);
      return { ...code, client: codeClient, user };
    },
    revokeAuthorizationCode: async (code) => deleteCode.run(sha256(code.authorizationCode)).changes === 1,
  };
  // The seed, written straight into the tables in one transaction.
  db.transaction(() => {
    db.prepare("INSERT OR REPLACE INTO client (id, secret_hash, grants) VALUES (?, ?, ?)").run(CLIENT_ID, sha256(CLIENT_SECRET), grants.join(" "));
    seed.refreshTokens.forEach((refreshToken, i) => {
      const token = {
        accessToken: `seed-access-${refreshToken}`,
        accessTokenExpiresAt: later(ACCESS_TTL),
        refreshToken,
        refreshTokenExpiresAt: later(REFRESH_TTL),
        scope: scopes,
      };
      saveToken(token, { id: `user-${i}` });
    });
    for (const [i, accessToken] of seed.accessTokens.entries()) {
      saveToken({ accessToken, accessTokenExpiresAt: later(ACCESS_TTL), scope: scopes }, { id: `reader-${i}` });
    }
    for (const [i, code] of seed.codes.entries()) insertCode.run(sha256(code), later(600).getTime(), "", SCOPE, CLIENT_ID, `coder-${i}`);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  return model;
}

const env = peerEnv();
const model = env.store === "memory" ? memoryModel(env.seed) : sqliteModel(env.database, env.seed);
const oauth = new OAuth2Server({ model, accessTokenLifetime: ACCESS_TTL, refreshTokenLifetime: REFRESH_TTL, alwaysIssueNewRefreshToken: true });

const app = Fastify({ logger: false });
await app.register(formbody);
const oauthError = (error: unknown) => {
  if (error instanceof OAuth2Server.OAuthError) return { status: error.code, body: { error: error.name, error_description: error.message } };
  return { status: 500, body: { error: "server_error" } };
};
const headersOf = (headers: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === "string"));

app.post("/oauth/token", async (request, reply) => {
  const req = new OAuth2Server.Request({ method: request.method, headers: headersOf(request.headers), query: {}, body: request.body ?? {} });
  const res = new OAuth2Server.Response();
  try {
    await oauth.token(req, res);
    return reply
      .code(res.status ?? 200)
      .headers(res.headers ?? {})
      .send(res.body);
  } catch (error) {
    const { status, body } = oauthError(error);
    return reply.code(status).send(body);
  }
});

app.post("/oauth/introspect", async (request, reply) => {
  const caller = basicCredentials(request.headers.authorization);
  if (!caller || !(await model.getClient(caller.id, caller.secret))) return reply.code(401).send({ error: "invalid_client" });
  const token = (request.body as { token?: unknown } | undefined)?.token;
  if (typeof token !== "string") return reply.code(400).send({ error: "invalid_request" });
  const req = new OAuth2Server.Request({ method: "GET", headers: { authorization: `Bearer ${token}` }, query: {}, body: {} });
  try {
    const found = await oauth.authenticate(req, new OAuth2Server.Response());
    return {
      active: true,
      scope: found.scope?.join(" "),
      client_id: found.client.id,
      sub: found.user.id,
      exp: Math.floor(found.accessTokenExpiresAt!.getTime() / 1000),
    };
  } catch {
    return { active: false };
  }
});

app.get("/healthz", async () => ({ status: "ok" }));
await app.listen({ port: env.port, host: "127.0.0.1" });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
