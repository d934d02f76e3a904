// oidc-provider 9 (its own Koa app on node:http), in memory (its MemoryAdapter, whose LRU
// is enlarged to hold the seed) or on a durable SQLite Adapter written for the bench
// (SHA-256 of each id as the key, the payload stored without its jti; appgrant's WAL
// settings). One static confidential client (client_secret_basic), opaque tokens,
// rotateRefreshToken: true, features.introspection on.
//
//   POST /oauth/token       refresh_token (the old token consumed, a new one saved)
//   POST /oauth/introspect  introspection, the caller authenticated as the client
//   GET  /healthz
//
// env: PORT, PEER_STORE=memory|sqlite, PEER_DATABASE (file), PEER_SEED (seed file)
import { createServer } from "node:http";
import Provider, { type Adapter, type AdapterPayload } from "oidc-provider";
import LRU from "oidc-provider/lib/helpers/lru.js";
import MemoryAdapter from "oidc-provider/lib/adapters/memory_adapter.js";
import { ACCESS_TTL, CLIENT_ID, CLIENT_SECRET, openSqlite, REFRESH_TTL, SCOPE, peerEnv, sha256 } from "./common.js";

interface Row {
  payload: string;
  consumed: number | null;
}

/** The Adapter interface on one SQLite table: (model, SHA-256 of the id) → payload. */
function sqliteAdapter(path: string): { adapter: new (model: string) => Adapter; transaction: <T>(fn: () => Promise<T>) => Promise<T> } {
  const db = openSqlite(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS oidc (
      model TEXT NOT NULL,
      id_hash TEXT NOT NULL,
      payload TEXT NOT NULL,
      grant_id TEXT,
      uid TEXT,
      user_code_hash TEXT,
      expires INTEGER,
      consumed INTEGER,
      PRIMARY KEY (model, id_hash)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS oidc_grant ON oidc (grant_id) WHERE grant_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS oidc_uid ON oidc (uid) WHERE uid IS NOT NULL;
    CREATE INDEX IF NOT EXISTS oidc_user_code ON oidc (user_code_hash) WHERE user_code_hash IS NOT NULL;
  `);
  const upsert = db.prepare(
    "INSERT OR REPLACE INTO oidc (model, id_hash, payload, grant_id, uid, user_code_hash, expires, consumed) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
  );
  const find = db.prepare<[string, string], Row>("SELECT payload, consumed FROM oidc WHERE model = ? AND id_hash = ?");
  const findBy = (column: "uid" | "user_code_hash") =>
    db.prepare<[string, string], Row & { id: string }>(`SELECT payload, consumed FROM oidc WHERE model = ? AND ${column} = ?`);
  const byUid = findBy("uid");
  const byUserCode = findBy("user_code_hash");
  // Single use: only the first consume of an id succeeds (a conditional write).
  const consume = db.prepare("UPDATE oidc SET consumed = ? WHERE model = ? AND id_hash = ? AND consumed IS NULL");
  const destroy = db.prepare("DELETE FROM oidc WHERE model = ? AND id_hash = ?");
  const revoke = db.prepare("DELETE FROM oidc WHERE grant_id = ?");
  const now = () => Math.floor(Date.now() / 1000);

  const load = (row: Row | undefined, jti: string | undefined): AdapterPayload | undefined => {
    if (!row) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (jti !== undefined) payload.jti = jti;
    if (row.consumed !== null) payload.consumed = row.consumed;
    return payload;
  };

  class SqliteAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<undefined> {
      // The id is the credential (opaque tokens): only its hash is kept, not the jti.
      const { jti: _jti, ...rest } = payload;
      upsert.run(
        this.model,
        sha256(id),
        JSON.stringify(rest),
        payload.grantId ?? null,
        payload.uid ?? null,
        payload.userCode ? sha256(payload.userCode) : null,
        expiresIn ? now() + expiresIn : null,
      );
      return undefined;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return load(find.get(this.model, sha256(id)), id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return load(byUid.get(this.model, uid), undefined);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return load(byUserCode.get(this.model, sha256(userCode)), undefined);
    }

    async consume(id: string): Promise<undefined> {
      if (consume.run(now(), this.model, sha256(id)).changes !== 1) throw new Error("already consumed");
      return undefined;
    }

    async destroy(id: string): Promise<undefined> {
      destroy.run(this.model, sha256(id));
      return undefined;
    }

    async revokeByGrantId(grantId: string): Promise<undefined> {
      revoke.run(grantId);
      return undefined;
    }
  }
  const transaction = async <T>(fn: () => Promise<T>): Promise<T> => {
    db.exec("BEGIN");
    try {
      const result = await fn();
      db.exec("COMMIT");
      db.pragma("wal_checkpoint(TRUNCATE)");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  };
  return { adapter: SqliteAdapter, transaction };
}

const env = peerEnv();
const seedSize = env.seed.refreshTokens.length * 2 + env.seed.accessTokens.length;
let transaction = <T>(fn: () => Promise<T>) => fn();
let adapter: (new (model: string) => Adapter) | undefined;
if (env.store === "sqlite") {
  ({ adapter, transaction } = sqliteAdapter(env.database));
} else {
  // The default MemoryAdapter keeps 1,000 entries (LRU): the same adapter on a store with
  // room for the seed and what the run adds.
  const store = new LRU({ maxSize: 4 * seedSize + 100_000 });
  adapter = class extends MemoryAdapter {
    constructor(model: string) {
      super(model, store);
    }
  };
}

const issuer = `http://127.0.0.1:${env.port}`;
const provider = new Provider(issuer, {
  ...(adapter ? { adapter } : {}),
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: ["https://bench.example/cb"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  scopes: ["openid", "offline_access", ...SCOPE.split(" ")],
  rotateRefreshToken: true,
  features: {
    // The default policy answers any authenticated client; here only the token's own client.
    introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    devInteractions: { enabled: false },
  },
  routes: { token: "/oauth/token", introspection: "/oauth/introspect" },
  ttl: { AccessToken: ACCESS_TTL, RefreshToken: REFRESH_TTL, Grant: REFRESH_TTL },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});

// The seed: each refresh token its own grant and account (a chain of its own), written
// through the models into the store before the server listens.
await transaction(async () => {
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error("bench client missing");
  const grantFor = async (accountId: string) => {
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope(SCOPE);
    return grant.save();
  };
  for (const [i, jti] of env.seed.refreshTokens.entries()) {
    const accountId = `user-${i}`;
    const grantId = await grantFor(accountId);
    await new provider.RefreshToken({ jti, client, accountId, grantId, scope: SCOPE, gty: "authorization_code" } as never).save();
  }
  const readerGrant = await grantFor("reader");
  for (const jti of env.seed.accessTokens) {
    const token = new provider.AccessToken({
      jti,
      client,
      accountId: "reader",
      grantId: readerGrant,
      scope: SCOPE,
      gty: "authorization_code",
    } as never);
    // Set when the model generates the id itself (here the seed gives it): opaque, the default.
    Object.assign(token, { format: "opaque" });
    await token.save();
  }
});

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.setHeader("content-type", "application/json");
    res.end('{"status":"ok"}');
    return;
  }
  callback(req, res);
});
server.listen(env.port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
