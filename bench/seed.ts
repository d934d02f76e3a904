// Seeds a benchmark database directly through the driver (seeding 100k+ rows
// through Prisma would take minutes): one confidential application, installations
// each with an unexchanged code, and installations each with a live token pair; the
// application may mint installation tokens and has an ES256 key (private_key_jwt).
import argon2 from "argon2";
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair } from "jose";
import Database from "better-sqlite3";
import pg from "pg";
import { generateClientId, generateCredential, sha256 } from "../src/crypto/tokens.js";
import { newId } from "../src/shared/ids.js";
import { parsePostgresUrl } from "../src/storage/settings.js";

export interface Seed {
  applicationId: string;
  clientId: string;
  clientSecret: string;
  codes: string[];
  accessTokens: string[];
  refreshTokens: string[];
  /** Installations with a token pair (active): what client_credentials mints for. */
  installationIds: string[];
  /** The application's key: private_key_jwt assertions are signed with it. */
  privateKey: CryptoKey;
  kid: string;
}

interface Rows {
  seed: Seed;
  application: unknown[];
  secret: unknown[];
  key: unknown[];
  installations: unknown[][];
  grants: unknown[][];
  tokens: unknown[][];
}

async function rows(codes: number, pairs: number, time: (date: Date) => string): Promise<Rows> {
  const now = new Date();
  const t = time(now);
  const later = time(new Date(now.getTime() + 3600_000));
  const much = time(new Date(now.getTime() + 30 * 86400_000));
  const appId = newId();
  const clientId = generateClientId();
  const clientSecret = generateCredential("clientSecret");
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  const seed: Seed = {
    applicationId: appId,
    clientId,
    clientSecret,
    codes: [],
    accessTokens: [],
    refreshTokens: [],
    installationIds: [],
    privateKey,
    kid,
  };
  const grantTypes = "authorization_code refresh_token client_credentials";
  const out: Rows = {
    seed,
    application: [appId, clientId, "bench", "confidential", "https://bench.example/cb", "read write", grantTypes, t, t],
    secret: [newId(), appId, await argon2.hash(clientSecret, { type: argon2.argon2id }), t],
    key: [newId(), appId, kid, "ES256", JSON.stringify({ ...jwk, kid, alg: "ES256", use: "sig" }), t],
    installations: [],
    grants: [],
    tokens: [],
  };
  for (let i = 0; i < codes + pairs; i++) {
    const installationId = newId();
    const account = `account-${i}`;
    out.installations.push([installationId, appId, account, "read write", "active", account, t]);
    if (i < codes) {
      const code = generateCredential("code");
      out.grants.push([newId(), sha256(code), appId, installationId, "read write", t, later]);
      seed.codes.push(code);
    } else {
      const id = newId();
      const access = generateCredential("accessToken", id);
      const refresh = generateCredential("refreshToken", id);
      out.tokens.push([id, sha256(access), sha256(refresh), appId, installationId, clientId, account, id, 1, "read write", t, later, much]);
      seed.accessTokens.push(access);
      seed.refreshTokens.push(refresh);
      seed.installationIds.push(installationId);
    }
  }
  return out;
}

const COLUMNS = {
  Application: ["id", "clientId", "name", "clientType", "redirectUris", "scopes", "grantTypes", "createdAt", "updatedAt"],
  ClientSecret: ["id", "applicationId", "secretHash", "createdAt"],
  ApplicationKey: ["id", "applicationId", "kid", "alg", "publicJwk", "createdAt"],
  Installation: ["id", "applicationId", "account", "scopes", "status", "activeAccount", "createdAt"],
  Grant: ["id", "codeHash", "applicationId", "installationId", "scopes", "createdAt", "expiresAt"],
  Token: [
    "id",
    "accessTokenHash",
    "refreshTokenHash",
    "applicationId",
    "installationId",
    "clientId",
    "account",
    "familyId",
    "generation",
    "scopes",
    "createdAt",
    "accessExpiresAt",
    "refreshExpiresAt",
  ],
} as const;

const quoted = (columns: readonly string[]) => columns.map((c) => `"${c}"`).join(", ");

export async function seedSqlite(path: string, codes: number, pairs: number): Promise<Seed> {
  const data = await rows(codes, pairs, (d) => d.toISOString().replace(/Z$/, "+00:00"));
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  const insert = (table: keyof typeof COLUMNS) =>
    db.prepare(`INSERT INTO "${table}" (${quoted(COLUMNS[table])}) VALUES (${COLUMNS[table].map(() => "?").join(", ")})`);
  db.transaction(() => {
    insert("Application").run(...data.application);
    insert("ClientSecret").run(...data.secret);
    insert("ApplicationKey").run(...data.key);
    const [i, g, tk] = [insert("Installation"), insert("Grant"), insert("Token")];
    for (const row of data.installations) i.run(...row);
    for (const row of data.grants) g.run(...row);
    for (const row of data.tokens) tk.run(...row);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return data.seed;
}

export async function seedPostgres(url: string, codes: number, pairs: number): Promise<Seed> {
  const data = await rows(codes, pairs, (d) => d.toISOString());
  const { connectionString, schema } = parsePostgresUrl(url);
  const client = new pg.Client({ connectionString, options: `-c search_path="${schema}"` });
  await client.connect();
  try {
    const insert = async (table: keyof typeof COLUMNS, all: unknown[][]) => {
      const columns = COLUMNS[table];
      for (let start = 0; start < all.length; start += 5000) {
        const batch = all.slice(start, start + 5000);
        // One statement per 5000 rows: columns as arrays, unnested into rows.
        const arrays = columns.map((_, c) => batch.map((row) => (row[c] === null ? null : String(row[c]))));
        const casts = columns.map((_column, c) => `$${c + 1}::text[]`);
        const select = columns
          .map((column, c) => (/At$/.test(column) ? `u${c}::timestamp(3)` : column === "generation" ? `u${c}::int` : `u${c}`))
          .join(", ");
        await client.query(
          `INSERT INTO "${table}" (${quoted(columns)}) SELECT ${select} FROM unnest(${casts.join(", ")}) AS u(${columns.map((_, c) => `u${c}`).join(", ")})`,
          arrays,
        );
      }
    };
    await insert("Application", [data.application]);
    await insert("ClientSecret", [data.secret]);
    await insert("ApplicationKey", [data.key]);
    await insert("Installation", data.installations);
    await insert("Grant", data.grants);
    await insert("Token", data.tokens);
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }
  return data.seed;
}

/**
 * Adds `rows` token rows to a seeded SQLite database, as years of use would leave them
 * (the growth bench): families of three generations, half of them expired past their
 * refresh expiry (what a purge removes), the other half two rotated rows and a live one,
 * one live family in ten revoked. They belong to the seed's application and installations.
 * The expired families come first: a row's id is a UUIDv7 (its creation time) and its
 * refresh expiry is its creation plus a fixed lifetime, so what has expired is what was
 * written first, in the table's order as in time.
 * The Token indexes are dropped for the load and built again after it (sorted: minutes
 * instead of hours for random keys), without a journal; the database is in WAL mode again after.
 */
export function fillSqlite(path: string, rows: number, seed: Seed, log: (line: string) => void = () => undefined): void {
  const db = new Database(path);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -1000000");
  db.pragma("foreign_keys = OFF");
  const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Token' AND sql IS NOT NULL`).all() as {
    name: string;
    sql: string;
  }[];
  for (const { name } of indexes) db.exec(`DROP INDEX "${name}"`);
  const insert = db.prepare(
    `INSERT INTO "Token" (${quoted([...COLUMNS.Token, "parentId", "rotatedAt", "revokedAt", "revokedReason"])}) VALUES (${Array.from({ length: COLUMNS.Token.length + 4 }, () => "?").join(", ")})`,
  );
  const sqliteTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "+00:00");
  const now = Date.now();
  const day = 86_400_000;
  // Ids older than the seed's rows, increasing (UUIDv7 order): the primary key appends.
  const start = now - 400 * day;
  let counter = 0;
  const id = () => newId(start + Math.floor(counter++ / 4));
  const hash = () => sha256(`filler-${counter}-${Math.random()}`);
  const families = Math.ceil(rows / 3);
  const batch = db.transaction((first: number, count: number) => {
    for (let f = first; f < first + count; f++) {
      const expired = f < families / 2;
      const revoked = !expired && f % 10 === 1;
      const installationId = seed.installationIds[f % seed.installationIds.length]!;
      const familyId = id();
      const created = expired ? now - 200 * day : now - 10 * day;
      let parent: string | null = null;
      for (let generation = 1; generation <= 3; generation++) {
        const tokenId: string = generation === 1 ? familyId : id();
        const at = created + generation * 8 * 3600_000;
        const last = generation === 3;
        insert.run(
          tokenId,
          hash(),
          hash(),
          seed.applicationId,
          installationId,
          seed.clientId,
          `filler-${f % 100_000}`,
          familyId,
          generation,
          "read write",
          sqliteTime(at),
          sqliteTime(at + 8 * 3600_000),
          sqliteTime(expired ? now - day : at + 90 * day),
          parent,
          last ? null : sqliteTime(at + 8 * 3600_000),
          revoked && last ? sqliteTime(at + 3600_000) : null,
          revoked && last ? "revoked" : null,
        );
        parent = tokenId;
      }
    }
  });
  for (let done = 0; done < families; done += 100_000) {
    batch(done, Math.min(100_000, families - done));
    if (done % 1_000_000 === 0) log(`bench: ${3 * done} filler rows…`);
  }
  log("bench: building the Token indexes…");
  for (const { sql } of indexes) db.exec(sql);
  db.pragma("journal_mode = WAL");
  db.close();
}
