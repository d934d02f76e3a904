// Seeds a benchmark database directly through the driver (seeding 100k+ rows
// through Prisma would take minutes): one confidential application, N
// installations each with an unexchanged code, and N live refresh tokens.
import Database from "better-sqlite3";
import argon2 from "argon2";
import { generateCredential, generateClientId, sha256 } from "../src/crypto/tokens.js";
import { newId } from "../src/db/ids.js";
import { toSqliteTime } from "../src/oauth/sqlite-token-store.js";

export interface Seed {
  clientId: string;
  clientSecret: string;
  codes: string[];
  refreshTokens: string[];
}

export async function seedSqlite(path: string, codes: number, refreshTokens: number): Promise<Seed> {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  const now = new Date();
  const t = toSqliteTime(now);
  const later = toSqliteTime(new Date(now.getTime() + 3600_000));
  const much = toSqliteTime(new Date(now.getTime() + 30 * 86400_000));
  const appId = newId();
  const clientId = generateClientId();
  const clientSecret = generateCredential("clientSecret");
  db.prepare(`INSERT INTO "Application" ("id","clientId","name","clientType","redirectUris","scopes","grantTypes","createdAt","updatedAt")
    VALUES (?,?,?,?,?,?,?,?,?)`).run(appId, clientId, "bench", "confidential", "https://bench.example/cb", "read write", "authorization_code refresh_token", t, t);
  db.prepare(`INSERT INTO "ClientSecret" ("id","applicationId","secretHash","createdAt") VALUES (?,?,?,?)`)
    .run(newId(), appId, await argon2.hash(clientSecret, { type: argon2.argon2id }), t);
  const insertInstallation = db.prepare(`INSERT INTO "Installation" ("id","applicationId","account","scopes","status","activeAccount","createdAt")
    VALUES (?,?,?,?,?,?,?)`);
  const insertGrant = db.prepare(`INSERT INTO "Grant" ("id","codeHash","applicationId","installationId","scopes","createdAt","expiresAt")
    VALUES (?,?,?,?,?,?,?)`);
  const insertToken = db.prepare(`INSERT INTO "Token" ("id","accessTokenHash","refreshTokenHash","applicationId","installationId","clientId","account","familyId","generation","scopes","createdAt","accessExpiresAt","refreshExpiresAt")
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const seed: Seed = { clientId, clientSecret, codes: [], refreshTokens: [] };
  db.transaction(() => {
    for (let i = 0; i < Math.max(codes, refreshTokens); i++) {
      const installationId = newId();
      const account = `account-${i}`;
      insertInstallation.run(installationId, appId, account, "read write", "active", account, t);
      if (i < codes) {
        const code = generateCredential("code");
        insertGrant.run(newId(), sha256(code), appId, installationId, "read write", t, later);
        seed.codes.push(code);
      }
      if (i < refreshTokens) {
        const refresh = generateCredential("refreshToken");
        const id = newId();
        insertToken.run(id, sha256(generateCredential("accessToken")), sha256(refresh), appId, installationId, clientId, account, id, 1, "read write", t, later, much);
        seed.refreshTokens.push(refresh);
      }
    }
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return seed;
}
