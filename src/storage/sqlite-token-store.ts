// TokenStore on SQLite: its own better-sqlite3 connection (WAL: readers never wait),
// prepared statements, synchronous transactions. Writes queue on the process's
// WriteLock with Prisma's transactions (see src/storage/write-lock.ts), and the token
// path's writes that arrive within one turn of the event loop share one transaction
// (group commit, see groupCommit below).
import { AsyncResource } from "node:async_hooks";
import { basename } from "node:path";
import Database from "better-sqlite3";
import { ATTR, NO_TRACING, type Tracing } from "../shared/tracing.js";
import { isSqliteBusy } from "../shared/database-unavailable.js";
import { describeStatement, inSpan } from "./traced-statements.js";
import type { WriteLock } from "./write-lock.js";
import type { NewToken, OAuthStore, RevocationEvent, TokenLookup } from "../oauth/token-store.js";
import { SLOW_DOWN_STEP } from "../oauth/device-authorization.js";
import { DELIVERY_COLUMNS, DELIVERY_FIELDS, EVENT_COLUMNS, EVENT_FIELDS, recordsEvent, revocationRows } from "./event-rows.js";
import {
  clientRecordAt,
  type ClientSecretsRow,
  codeRecord,
  type CodeRow,
  DEVICE_EXCHANGEABLE,
  deviceRecord,
  type DeviceRow,
  type Dialect,
  installationRecord,
  type InstallationRow,
  introspectionRecord,
  type IntrospectionRow,
  type KeyRow,
  NEW_TOKEN_COLUMNS,
  NEW_TOKEN_FIELDS,
  SELECT_CODE,
  SELECT_DEVICE,
  SELECT_INSTALLATION,
  SELECT_INTROSPECTION,
  SELECT_KEYS,
  SELECT_TOKEN,
  legacyTokenId,
  lookupKey,
  matching,
  SELECT_CLIENT_ALL_SECRETS,
  tokenRecord,
  type TokenRow,
  useAssertion,
  type Wire,
} from "./token-rows.js";

/** Prisma's SQLite adapter stores DateTime as ISO-8601 text with an explicit +00:00 offset. */
export const toSqliteTime = (date: Date): string => date.toISOString().replace(/Z$/, "+00:00");
const sqlite: Dialect<string> = { date: (value) => new Date(value) };

/** With tracing on, each run, get and all of the statement is a client span (src/storage/traced-statements.ts). */
function traced<S extends Database.Statement<never[], unknown>>(statement: S, tracing: Tracing, path: string): S {
  const info = describeStatement(statement.source, { [ATTR.dbSystemName]: "sqlite", [ATTR.dbNamespace]: basename(path) });
  const wrap = <F extends (...args: never[]) => unknown>(method: F): F =>
    ((...args: Parameters<F>) => inSpan(tracing, info, () => method(...args))) as F;
  statement.run = wrap(statement.run.bind(statement));
  statement.get = wrap(statement.get.bind(statement));
  statement.all = wrap(statement.all.bind(statement));
  return statement;
}

/**
 * No busy timeout: waiting for another process's write lock would block the event
 * loop; the WriteLock retries asynchronously instead (see src/storage/write-lock.ts).
 * Throws SQLITE_BUSY, having closed its connection, when another process holds the
 * database exclusively for a moment.
 */
/** The token store, and how its connection checkpoints (src/storage/checkpointer.ts). */
export interface SqliteTokenStore extends OAuthStore {
  /** PRAGMA wal_autocheckpoint: 0 while a background checkpointer runs; INLINE_CHECKPOINT_PAGES otherwise. */
  autocheckpoint(pages: number): void;
  /** The token path's lookups since the process started (readGroups). */
  readonly reads: Readonly<ReadStats>;
}

export interface ReadStats {
  /** Lookups run. */
  lookups: number;
  /** Read transactions they ran in: one per turn of the event loop that asked for two or more. */
  transactions: number;
}

/** WAL pages after which a commit of this connection checkpoints inline (see below). */
export const INLINE_CHECKPOINT_PAGES = 10_000;

/** One read or write of the token path waiting for its group's transaction. */
interface Pending {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}
type Outcome = { value: unknown } | { error: unknown };

/**
 * Group commit: the token path's writes (a code exchange, a rotation, an installation
 * token, a client assertion's jti, a device poll) that arrive within one turn of the
 * event loop, or while the write lock is taken, run in one SQLite transaction, and each
 * request is answered once that transaction has committed. A commit costs as much as
 * the writes it holds (measured in bench/: ~240 µs for a rotation alone, ~110 µs each
 * in groups of 16), so under load most of it is shared. Each write is a conditional
 * statement plus inserts, safe to run with others: two rotations of one token in one
 * group see each other's update as two transactions would.
 *
 * Should one write throw (a constraint), the group runs again with each write in its
 * own savepoint, so only that one fails. A group that meets another process's write
 * lock (SQLITE_BUSY, at BEGIN: nothing was written) is retried whole by the lock.
 *
 * A group runs in the async context of whichever write opened it; with `bind` (tracing
 * on: AsyncResource.bind) each write runs in its own caller's, so its statements are
 * spans of its own request.
 */
function groupCommit(db: Database.Database, lock: WriteLock, bind?: <F extends () => unknown>(run: F) => F): <T>(run: () => T) => Promise<T> {
  const together = db.transaction((group: Pending[]): Outcome[] => group.map((write) => ({ value: write.run() })));
  const alone = db.transaction((write: Pending) => write.run());
  const isolated = db.transaction((group: Pending[]): Outcome[] =>
    group.map((write) => {
      try {
        return { value: alone(write) }; // nested: a savepoint
      } catch (error) {
        return { error };
      }
    }),
  );
  const commit = (group: Pending[]): Outcome[] => {
    try {
      return together.immediate(group);
    } catch (error) {
      if (isSqliteBusy(error)) throw error;
      return isolated.immediate(group);
    }
  };
  const turns = perTurn((group) => {
    lock
      .run(() => {
        // The group closes when it gets the lock: writes that came while it waited are in it.
        turns.close(group);
        return commit(group);
      })
      .then(
        (outcomes) => {
          for (const [i, outcome] of outcomes.entries()) {
            if ("error" in outcome) group[i]!.reject(outcome.error);
            else group[i]!.resolve(outcome.value);
          }
        },
        (error: unknown) => {
          turns.close(group);
          for (const write of group) write.reject(error);
        },
      );
  }, bind);
  return turns.add;
}

/**
 * Gathers the calls made within one turn of the event loop into a group, handed to `flush`
 * after the turn's poll phase (setImmediate), so every request read in that turn joins.
 * Calls made after `close(group)` open the next group.
 */
function perTurn(
  flush: (group: Pending[]) => void,
  bind?: <F extends () => unknown>(run: F) => F,
): { add<T>(run: () => T): Promise<T>; close(group: Pending[]): void } {
  let open: Pending[] | null = null;
  return {
    add: <T>(run: () => T) =>
      new Promise<T>((resolve, reject) => {
        if (open === null) {
          const group: Pending[] = [];
          open = group;
          setImmediate(flush, group);
        }
        open.push({ run: bind ? bind(run) : run, resolve: resolve as (value: unknown) => void, reject });
      }),
    close(group) {
      if (open === group) open = null;
    },
  };
}

/** Runs one pending read or write and settles its promise with what it returned or threw. */
function settle(pending: Pending): void {
  let value: unknown;
  try {
    value = pending.run();
  } catch (error) {
    pending.reject(error);
    return;
  }
  pending.resolve(value);
}

/**
 * Read groups: the token path's lookups asked for within one turn of the event loop run
 * together in one read transaction. Outside a transaction each lookup is a transaction of
 * its own, and beginning and ending one costs more than the lookup: two fcntl locks and
 * an fstat of the WAL index, ~12 µs a primary-key lookup alone against ~6 µs each in a
 * group of 20 (measured on the bench's database); under load the bench's token paths
 * served 1.3–1.6× the requests with it (README, Benchmark). A turn's lookups run after its poll
 * phase, as a write group does, and the transaction begins then, after every read in it
 * was asked for: a read sees every commit made before it was asked for (Prisma's, another
 * process's), as a lookup of its own would. No snapshot outlives the group. One lookup
 * alone runs without a transaction; should BEGIN fail, each runs alone.
 */
function readGroups(db: Database.Database, stats: ReadStats, bind?: <F extends () => unknown>(run: F) => F): <T>(run: () => T) => Promise<T> {
  const within = db.transaction((run: () => void) => {
    stats.transactions++;
    run();
  });
  const turns = perTurn((group) => {
    turns.close(group);
    stats.lookups += group.length;
    let next = 0;
    const runAll = () => {
      while (next < group.length) settle(group[next++]!);
    };
    if (group.length > 1) {
      try {
        within.deferred(runAll);
      } catch {
        // BEGIN failed (no read ran) or COMMIT did (every read ran): runAll runs what is left.
      }
    }
    runAll();
  }, bind);
  return turns.add;
}

export function openSqliteTokenStore(path: string, lock: WriteLock, tracing: Tracing = NO_TRACING, busyTimeoutMs = 0): SqliteTokenStore {
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    return sqliteTokenStore(db, lock, tracing, path);
  } catch (error) {
    db.close();
    throw error;
  }
}

function sqliteTokenStore(db: Database.Database, lock: WriteLock, tracing: Tracing, path: string): SqliteTokenStore {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  // When the process checkpoints inline (no background checkpointer, or it stopped):
  // less often than SQLite's default (every 1000 WAL pages): each request
  // here dirties ~10 pages of random index leaves, and a larger checkpoint writes each
  // page once for many commits. Measured here: ~25% less time per token exchange.
  // The WAL is truncated back to 64 MiB after each checkpoint.
  db.pragma(`wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  // The statements of the token path; off, prepared bare.
  const prepare = <P extends unknown[] | object = unknown[], R = unknown>(source: string): Database.Statement<P, R> => {
    const statement = db.prepare<P, R>(source);
    return tracing.enabled ? (traced(statement as never, tracing, path) as Database.Statement<P, R>) : statement;
  };

  const clientStmt = prepare<[string], ClientSecretsRow<string>>(`${SELECT_CLIENT_ALL_SECRETS} WHERE a."clientId" = ?`);
  // Changes whenever another connection commits: Prisma's (the admin API, the CLI's
  // commands), another process's. This connection writes no application, and of a secret
  // only its lookupHash (fillSecretLookupHash), forgetting the clients when it does.
  const dataVersionStmt = db.prepare<[], number>("PRAGMA data_version").pluck();
  const codeStmt = prepare<[string], CodeRow<string>>(`${SELECT_CODE} WHERE g."codeHash" = ?`);
  // Each consume and insert also requires the scopes it derived from to be unchanged: a
  // narrowing of the application's scopes (src/domain/installation-permissions.ts) since the read.
  const consumeStmt = prepare(`UPDATE "Grant" SET "consumedAt" = ?
    WHERE "id" = ? AND "consumedAt" IS NULL AND "revokedAt" IS NULL AND "expiresAt" > ? AND "scopes" = ?
      AND EXISTS (SELECT 1 FROM "Installation" i WHERE i."id" = "Grant"."installationId" AND i."status" = 'active')`);
  const insertTokenStmt = prepare<[Wire<NewToken, string>]>(
    `INSERT INTO "Token" (${NEW_TOKEN_COLUMNS}) VALUES (${NEW_TOKEN_FIELDS.map((field) => `@${field}`).join(", ")})`,
  );
  // By selector (the primary key), or a token issued before selectors by its legacy hash.
  const tokenStmt = prepare<[string], TokenRow<string>>(`${SELECT_TOKEN} WHERE t."id" = ?`);
  const legacyTokenStmt = prepare<[string], TokenRow<string>>(`${SELECT_TOKEN} WHERE t."id" = (${legacyTokenId("?")})`);
  const successorStmt = prepare<[string], TokenRow<string>>(`${SELECT_TOKEN} WHERE t."parentId" = ?`);
  const rotateStmt = prepare(`UPDATE "Token" SET "rotatedAt" = ?
    WHERE "id" = ? AND "rotatedAt" IS NULL AND "revokedAt" IS NULL AND "refreshExpiresAt" > ? AND "scopes" = ?
      AND EXISTS (SELECT 1 FROM "Installation" i WHERE i."id" = "Token"."installationId" AND i."status" = 'active')`);
  const introspectStmt = prepare<[string], IntrospectionRow<string>>(`${SELECT_INTROSPECTION} WHERE t."id" = ?`);
  const legacyIntrospectStmt = prepare<[string], IntrospectionRow<string>>(`${SELECT_INTROSPECTION} WHERE t."id" = (${legacyTokenId("?")})`);
  const tokenRow = (lookup: TokenLookup, column: "accessTokenHash" | "refreshTokenHash") =>
    matching((lookup.selector === null ? legacyTokenStmt : tokenStmt).get(lookupKey(lookup)), column, lookup);
  const introspectionRow = (lookup: TokenLookup, column: "accessTokenHash" | "refreshTokenHash") =>
    matching((lookup.selector === null ? legacyIntrospectStmt : introspectStmt).get(lookupKey(lookup)), column, lookup);
  const revokeTokenStmt = prepare(`UPDATE "Token" SET "revokedAt" = ?, "revokedReason" = ? WHERE "id" = ? AND "revokedAt" IS NULL`);
  const revokeFamilyStmt = prepare(`UPDATE "Token" SET "revokedAt" = ?, "revokedReason" = ?
    WHERE "familyId" = ? AND "revokedAt" IS NULL`);

  const insertEventStmt = prepare(`INSERT INTO "Event" (${EVENT_COLUMNS}) VALUES (${EVENT_FIELDS.map((field) => `@${field}`).join(", ")})`);
  // Only when the application subscribes to webhooks (has a URL), decided by the same statement.
  const insertDeliveryStmt = prepare(`INSERT INTO "WebhookDelivery" (${DELIVERY_COLUMNS})
    SELECT ${DELIVERY_FIELDS.map((field) => `@${field}`).join(", ")}
    FROM "Application" a WHERE a."id" = @applicationId AND a."webhookUrl" IS NOT NULL`);

  const keysStmt = prepare<[string], KeyRow>(`${SELECT_KEYS} WHERE k."applicationId" = ? ORDER BY k."id"`);
  const useAssertionStmt = prepare<[string, string, string, string]>(useAssertion(["?", "?", "?", "?"]));
  const installationStmt = prepare<[string], InstallationRow>(`${SELECT_INSTALLATION} WHERE i."id" = ?`);
  // Only while the installation is active: the write lock orders it with an uninstall's transaction.
  const insertAccessTokenStmt = prepare<[Wire<NewToken, string> & { installationScopes: string }]>(
    `INSERT INTO "Token" (${NEW_TOKEN_COLUMNS}) SELECT ${NEW_TOKEN_FIELDS.map((field) => `@${field}`).join(", ")}
      WHERE EXISTS (SELECT 1 FROM "Installation" i
        WHERE i."id" = @installationId AND i."status" = 'active' AND i."scopes" = @installationScopes)`,
  );

  const deviceStmt = prepare<[string], DeviceRow<string>>(`${SELECT_DEVICE} WHERE d."deviceCodeHash" = ?`);
  // `IS ?`: null-safe equality, so the first poll (no previous one) is conditional too.
  const recordPollStmt = prepare<[string, string, string | null]>(
    `UPDATE "DeviceAuthorization" SET "lastPolledAt" = ? WHERE "id" = ? AND "lastPolledAt" IS ?`,
  );
  const slowDownStmt = prepare<[number, string, string]>(
    `UPDATE "DeviceAuthorization" SET "interval" = "interval" + ?, "lastPolledAt" = ? WHERE "id" = ?`,
  );
  // Only with the scopes read: a narrowing committed meanwhile changed them (the grant reads again).
  const consumeDeviceStmt = prepare(`UPDATE "DeviceAuthorization" SET "consumedAt" = ?
    WHERE "id" = ? AND ${DEVICE_EXCHANGEABLE("?")} AND "grantedScopes" = ?
      AND EXISTS (SELECT 1 FROM "Installation" i WHERE i."id" = "DeviceAuthorization"."installationId" AND i."status" = 'active')`);

  const fillLookupStmt = prepare<[string, string]>(`UPDATE "ClientSecret" SET "lookupHash" = ? WHERE "id" = ? AND "lookupHash" IS NULL`);

  const pingStmt = prepare("SELECT 1");

  const sqliteTime = (date: Date | null) => (date === null ? null : toSqliteTime(date));

  // Clients remembered while the database is unchanged (data_version): every token
  // request looks its client up, and clients change rarely. A secret added, deleted or
  // expired, an application changed or deleted, here or in another process, is seen at
  // the next request, as without the memory. Unknown client_ids are not remembered.
  const clients = new Map<string, ClientSecretsRow<string>[]>();
  const MAX_CLIENTS = 1000;
  let clientsVersion: number | undefined;
  /** Records a revocation's event (and its webhook delivery): called inside the revocation's transaction. */
  const recordEvent = (event: RevocationEvent, now: Date, revoked: number) => {
    const rows = revocationRows(event, now, revoked);
    insertEventStmt.run({ ...rows.event, occurredAt: toSqliteTime(rows.event.occurredAt) });
    if (rows.delivery) {
      const { delivery } = rows;
      insertDeliveryStmt.run({
        ...delivery,
        codeExpiresAt: sqliteTime(delivery.codeExpiresAt),
        nextAttemptAt: toSqliteTime(delivery.nextAttemptAt),
        createdAt: toSqliteTime(delivery.createdAt),
      });
    }
  };

  const tokenWire = (token: NewToken): Wire<NewToken, string> => ({
    ...token,
    createdAt: toSqliteTime(token.createdAt),
    accessExpiresAt: toSqliteTime(token.accessExpiresAt),
    refreshExpiresAt: toSqliteTime(token.refreshExpiresAt),
  });
  const insertToken = (token: NewToken) => insertTokenStmt.run(tokenWire(token));

  // The token path's writes: each runs inside its group's transaction (groupCommit).
  const bind = tracing.enabled ? <F extends () => unknown>(run: F): F => AsyncResource.bind(run) : undefined;
  const write = groupCommit(db, lock, bind);
  // Their lookups: each runs inside its turn's read transaction (readGroups).
  const reads: ReadStats = { lookups: 0, transactions: 0 };
  const read = readGroups(db, reads, bind);
  const exchange = (codeId: string, now: string, token: NewToken) => {
    if (consumeStmt.run(now, codeId, now, token.scopes).changes !== 1) return false;
    insertToken(token);
    return true;
  };
  const exchangeDevice = (id: string, now: string, token: NewToken) => {
    if (consumeDeviceStmt.run(now, id, now, token.scopes).changes !== 1) return false;
    insertToken(token);
    return true;
  };
  const rotate = (parentId: string, now: string, successor: NewToken, parentScopes: string) => {
    if (rotateStmt.run(now, parentId, now, parentScopes).changes !== 1) return false;
    insertToken(successor);
    return true;
  };
  const revokeToken = db.transaction((tokenId: string, now: Date, reason: string, event: RevocationEvent | undefined) => {
    const revoked = revokeTokenStmt.run(toSqliteTime(now), reason, tokenId).changes;
    if (recordsEvent(event, revoked)) recordEvent(event, now, revoked);
    return revoked === 1;
  });
  const revokeFamily = db.transaction((familyId: string, now: Date, reason: string, event: RevocationEvent | undefined) => {
    const revoked = revokeFamilyStmt.run(toSqliteTime(now), reason, familyId).changes;
    if (recordsEvent(event, revoked)) recordEvent(event, now, revoked);
    return revoked;
  });

  return {
    reads,
    autocheckpoint(pages) {
      db.pragma(`wal_autocheckpoint = ${pages}`);
    },
    findClient(clientId, now) {
      return read(() => {
        const version = dataVersionStmt.get();
        if (version !== clientsVersion) {
          clients.clear();
          clientsVersion = version;
        }
        let rows = clients.get(clientId);
        if (rows === undefined) {
          rows = clientStmt.all(clientId);
          if (rows.length === 0) return null;
          if (clients.size >= MAX_CLIENTS) clients.clear();
          clients.set(clientId, rows);
        }
        return clientRecordAt(rows, now, sqlite);
      });
    },
    findCodeByHash(codeHash) {
      return read(() => {
        const row = codeStmt.get(codeHash);
        return row ? codeRecord(row, sqlite) : null;
      });
    },
    exchangeCode(codeId, now, token) {
      return write(() => exchange(codeId, toSqliteTime(now), token));
    },
    findTokenByRefresh(lookup) {
      return read(() => {
        const row = tokenRow(lookup, "refreshTokenHash");
        return row ? tokenRecord(row, sqlite) : null;
      });
    },
    async findSuccessor(parentId) {
      const row = successorStmt.get(parentId);
      return row ? tokenRecord(row, sqlite) : null;
    },
    rotate(parentId, now, successor, parentScopes) {
      return write(() => rotate(parentId, toSqliteTime(now), successor, parentScopes));
    },
    findByAccess(lookup) {
      return read(() => {
        const row = introspectionRow(lookup, "accessTokenHash");
        return row ? introspectionRecord(row, sqlite) : null;
      });
    },
    findByRefresh(lookup) {
      return read(() => {
        const row = introspectionRow(lookup, "refreshTokenHash");
        return row ? introspectionRecord(row, sqlite) : null;
      });
    },
    revokeToken(tokenId, now, reason, event) {
      return lock.run(() => revokeToken.immediate(tokenId, now, reason, event));
    },
    revokeFamily(familyId, now, reason, event) {
      return lock.run(() => revokeFamily.immediate(familyId, now, reason, event));
    },
    async fillSecretLookupHash(secretId, lookupHash) {
      await write(() => fillLookupStmt.run(lookupHash, secretId));
      // data_version does not change for this connection's own commits: the remembered record would still list it.
      clients.clear();
    },
    findClientKeys(applicationId) {
      return read(() => keysStmt.all(applicationId));
    },
    useAssertionId(assertionId, applicationId, expiresAt, now) {
      return write(() => useAssertionStmt.run(assertionId, applicationId, toSqliteTime(expiresAt), toSqliteTime(now)).changes === 1);
    },
    findInstallation(installationId) {
      return read(() => {
        const row = installationStmt.get(installationId);
        return row ? installationRecord(row) : null;
      });
    },
    issueAccessToken(token, installationScopes) {
      return write(() => insertAccessTokenStmt.run({ ...tokenWire(token), installationScopes }).changes === 1);
    },
    findDeviceAuthorization(deviceCodeHash) {
      return read(() => {
        const row = deviceStmt.get(deviceCodeHash);
        return row ? deviceRecord(row, sqlite) : null;
      });
    },
    recordPoll(id, now, previous) {
      return write(() => recordPollStmt.run(toSqliteTime(now), id, sqliteTime(previous)).changes === 1);
    },
    async slowDown(id, now) {
      await write(() => slowDownStmt.run(SLOW_DOWN_STEP, toSqliteTime(now), id));
    },
    exchangeDeviceCode(id, now, token) {
      return write(() => exchangeDevice(id, toSqliteTime(now), token));
    },
    async ping() {
      pingStmt.get();
    },
    async close() {
      db.close();
    },
  };
}
