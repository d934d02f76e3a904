// TokenStore on PostgreSQL: plain SQL on the process's pg.Pool, each write one
// statement. Several server processes share the database, so every single-use and
// rotation guarantee rests on row locks, not on anything in this process:
// - a code or refresh token is consumed by one conditional UPDATE; concurrent
//   consumers block on the row lock and, once the winner commits, re-check the
//   condition and match nothing;
// - the installation row is locked FOR SHARE before tokens are issued, so an
//   uninstall (which updates that row first) either waits for the issue to commit
//   and then revokes what it issued, or runs first and the issue finds no active
//   installation.
import type pg from "pg";
import { isDatabaseUnavailable } from "../shared/database-unavailable.js";
import { revokeUntilNoneLive } from "../shared/family-revocation.js";
import { type Attributes, ATTR, NO_TRACING, type Tracing } from "../shared/tracing.js";
import type { PostgresLocation } from "./settings.js";
import { describeStatement, inSpanAsync, type StatementInfo } from "./traced-statements.js";
import type { NewToken, OAuthStore, RevocationEvent, TokenLookup } from "../oauth/token-store.js";
import { SLOW_DOWN_STEP } from "../oauth/device-authorization.js";
import type { DeliveryRow, EventRow } from "../domain/events.js";
import { DELIVERY_COLUMNS, EVENT_COLUMNS, recordsEvent, revocationRows } from "./event-rows.js";
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
  type NewTokenField,
  SELECT_CODE,
  SELECT_DEVICE,
  SELECT_INSTALLATION,
  SELECT_INTROSPECTION,
  SELECT_KEYS,
  SELECT_TOKEN,
  legacyTokenId,
  matching,
  SELECT_CLIENT_ALL_SECRETS,
  tokenRecord,
  type TokenRow,
  useAssertion,
} from "./token-rows.js";

/**
 * Timestamps go in as UTC ISO strings: the columns are timestamp without time zone
 * (Prisma's mapping), which ignores an offset, and pg would otherwise format a Date
 * in the process's local time zone.
 */
const ts = (date: Date) => date.toISOString();
/** The pool reads timestamp columns as UTC Dates already (src/storage/postgres.ts). */
const postgres: Dialect<Date> = { date: (value) => value };

// Every secret of the client with its expiry (filtered at the request's time in clientRecordAt), so that
// one statement serves the lookups of several requests (batchedReads below).
const CLIENT_BY_ID = `${SELECT_CLIENT_ALL_SECRETS} WHERE a."clientId" = $1`;
const CLIENTS_BY_IDS = `${SELECT_CLIENT_ALL_SECRETS} WHERE a."clientId" = ANY($1::text[])`;
const CODE_BY_HASH = `${SELECT_CODE} WHERE g."codeHash" = $1`;
const CODES_BY_HASHES = `${SELECT_CODE} WHERE g."codeHash" = ANY($1::text[])`;
// By selector (the primary key), or a token issued before selectors by its legacy hash.
const TOKEN_BY_ID = `${SELECT_TOKEN} WHERE t."id" = $1`;
const TOKENS_BY_IDS = `${SELECT_TOKEN} WHERE t."id" = ANY($1::text[])`;
const TOKEN_BY_LEGACY_HASH = `${SELECT_TOKEN} WHERE t."id" = (${legacyTokenId("$1")})`;
const TOKEN_BY_PARENT = `${SELECT_TOKEN} WHERE t."parentId" = $1`;
const INTROSPECTION_BY_ID = `${SELECT_INTROSPECTION} WHERE t."id" = $1`;
const INTROSPECTIONS_BY_IDS = `${SELECT_INTROSPECTION} WHERE t."id" = ANY($1::text[])`;
const INTROSPECTION_BY_LEGACY_HASH = `${SELECT_INTROSPECTION} WHERE t."id" = (${legacyTokenId("$1")})`;

/**
 * The casts of the inserted values that are not text (a bare parameter in a SELECT
 * list is text): required for every non-text field of NewToken.
 */
const NON_TEXT: { [K in NewTokenField as NonNullable<NewToken[K]> extends string ? never : K]: string } = {
  generation: "int",
  createdAt: "timestamp(3)",
  accessExpiresAt: "timestamp(3)",
  refreshExpiresAt: "timestamp(3)",
};
const CASTS: { readonly [K in NewTokenField]?: string } = NON_TEXT;
const TOKEN_PARAMS = NEW_TOKEN_FIELDS.map((field, index) => `$${index + 1}::${CASTS[field] ?? "text"}`).join(", ");
const N = NEW_TOKEN_FIELDS.length;

/**
 * Consume-and-issue as ONE statement (one round trip, atomic by itself): lock the
 * installation FOR SHARE, apply the conditional UPDATE that consumes the code or
 * rotates the parent, and insert the new token only if that UPDATE matched a row.
 * $1–$N are the token's columns (NEW_TOKEN_FIELDS), then the installation, now, the
 * consumed row, and the scopes the new token was derived from: the consumed row must
 * still have them (a narrowing of the application's scopes committed meanwhile updated
 * the row, and the UPDATE re-checks its condition on the committed version).
 */
function consumeAndInsert(table: "Grant" | "Token" | "DeviceAuthorization", condition: string): string {
  return `WITH installation AS (
      SELECT 1 FROM "Installation" WHERE "id" = $${N + 1} AND "status" = 'active' FOR SHARE
    ), consumed AS (
      UPDATE "${table}" SET "${table === "Token" ? "rotatedAt" : "consumedAt"}" = $${N + 2}::timestamp(3)
      WHERE "id" = $${N + 3} AND ${condition} AND "${table === "DeviceAuthorization" ? "grantedScopes" : "scopes"}" = $${N + 4}
        AND EXISTS (SELECT 1 FROM installation)
      RETURNING 1
    )
    INSERT INTO "Token" (${NEW_TOKEN_COLUMNS})
    SELECT ${TOKEN_PARAMS}
    FROM consumed
    RETURNING "id"`;
}

/**
 * consumeAndInsert for many at once (group commit, see batched): the columns of each new
 * token, its installation, `now`, the consumed row and the scopes it was derived from come
 * as arrays, one element per request. Each new token is inserted only if its own UPDATE
 * matched; two requests consuming the same row in one batch: the UPDATE uses one of them
 * (PostgreSQL joins a target row to one source row), so exactly one wins. Returns the ids
 * of the tokens inserted.
 */
/** The new tokens' columns as arrays, $1–$N (NEW_TOKEN_FIELDS order), and their names once unnested. */
const TOKEN_ARRAYS = NEW_TOKEN_FIELDS.map((field, index) => `$${index + 1}::${CASTS[field] ?? "text"}[]`).join(", ");
const TOKEN_FIELDS = NEW_TOKEN_FIELDS.map((field) => `"${field}"`);

/** TOKEN_ARRAYS' values: one array per column of NEW_TOKEN_FIELDS, one element per token. */
function tokenArrays(tokens: NewToken[]): unknown[][] {
  const columns: unknown[][] = NEW_TOKEN_FIELDS.map(() => []);
  for (const token of tokens) for (const [index, value] of tokenValues(token).entries()) columns[index]!.push(value);
  return columns;
}

function consumeAndInsertMany(table: "Grant" | "Token", condition: string): string {
  return `WITH input AS (
      SELECT * FROM unnest(${TOKEN_ARRAYS}, $${N + 1}::timestamp(3)[], $${N + 2}::text[], $${N + 3}::text[])
        AS u(${TOKEN_FIELDS.join(", ")}, "now_", "consumed_", "scopes_")
    ), installation AS (
      SELECT "id" FROM "Installation" WHERE "id" IN (SELECT "installationId" FROM input) AND "status" = 'active' FOR SHARE
    ), consumed AS (
      UPDATE "${table}" c SET "${table === "Token" ? "rotatedAt" : "consumedAt"}" = input."now_"
      FROM input
      WHERE c."id" = input."consumed_" AND ${condition} AND c."scopes" = input."scopes_"
        AND input."installationId" IN (SELECT "id" FROM installation)
      RETURNING input."id"
    )
    INSERT INTO "Token" (${NEW_TOKEN_COLUMNS})
    SELECT ${TOKEN_FIELDS.map((field) => `input.${field}`).join(", ")} FROM input JOIN consumed USING ("id")
    RETURNING "id"`;
}

const EXCHANGE_CODES = consumeAndInsertMany("Grant", `c."consumedAt" IS NULL AND c."revokedAt" IS NULL AND c."expiresAt" > input."now_"`);
const ROTATE_MANY = consumeAndInsertMany("Token", `c."rotatedAt" IS NULL AND c."revokedAt" IS NULL AND c."refreshExpiresAt" > input."now_"`);

/** One consume-and-insert request: the new token, when, the row it consumes and the scopes it was derived from. */
interface Consume {
  token: NewToken;
  now: Date;
  consumed: string;
  scopes: string;
}

/** consumeAndInsertMany's parameters: one array per column, in NEW_TOKEN_FIELDS order, then now, consumed and scopes. */
function consumeArrays(requests: Consume[]): unknown[][] {
  return [
    ...tokenArrays(requests.map((request) => request.token)),
    requests.map((request) => ts(request.now)),
    requests.map((request) => request.consumed),
    requests.map((request) => request.scopes),
  ];
}

/**
 * Group commit for PostgreSQL: the requests made within one turn of the event loop run
 * as one statement (`many`: one round trip, one commit and one WAL flush for all of
 * them), each answered with whether its own write happened. One request alone runs as
 * before (`one`), and so does every request while tracing is on. Should the statement fail other than by the database being
 * unavailable (a constraint: one bad request), each request runs again alone, so only
 * that one fails; an unavailable database fails them all, as it would have one by one.
 */
function batched<R>(many: (requests: R[]) => Promise<boolean[]>, one: (request: R) => Promise<boolean>): (request: R) => Promise<boolean> {
  let pending: { request: R; resolve(value: boolean): void; reject(error: unknown): void }[] = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    if (batch.length === 1) {
      const [only] = batch;
      return one(only!.request).then(only!.resolve, only!.reject);
    }
    try {
      const outcomes = await many(batch.map((entry) => entry.request));
      for (const [index, entry] of batch.entries()) entry.resolve(outcomes[index]!);
    } catch (error) {
      if (isDatabaseUnavailable(error)) for (const entry of batch) entry.reject(error);
      else for (const entry of batch) one(entry.request).then(entry.resolve, entry.reject);
    }
  };
  return (request) =>
    new Promise<boolean>((resolve, reject) => {
      pending.push({ request, resolve, reject });
      if (pending.length === 1) setImmediate(() => void flush());
    });
}

/**
 * Batched reads, the reading side of `batched`: the lookups of one kind (clients by
 * client_id, codes by hash, installations and tokens by id) made within one turn of the event loop run as one statement
 * over the array of their keys (`many`), and each request gets the rows of its own key.
 * On PostgreSQL a statement's cost is mostly its round trip (the two processes waking
 * each other on a shared core), not its rows. One key alone runs as before (`one`), and
 * so does every lookup while tracing is on. A batch that fails with the database
 * unavailable fails each of its lookups; failing otherwise, each key is looked up alone,
 * so only its own requests fail (as `batched` does for writes). Rows are shared by the
 * requests that asked for the same key: the callers build records from them and never
 * change them.
 */
function batchedReads<Row>(
  one: (key: string) => Promise<Row[]>,
  many: (keys: string[]) => Promise<Row[]>,
  keyOf: (row: Row) => string,
): (key: string) => Promise<readonly Row[]> {
  type Waiter = { resolve(rows: readonly Row[]): void; reject(error: unknown): void };
  let pending = new Map<string, Waiter[]>();
  const settle = (waiters: Waiter[], rows: Promise<readonly Row[]>) =>
    rows.then(
      (value) => {
        for (const waiter of waiters) waiter.resolve(value);
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  const flush = () => {
    const batch = pending;
    pending = new Map();
    if (batch.size === 1) {
      const [key, waiters] = batch.entries().next().value as [string, Waiter[]];
      return void settle(waiters, one(key));
    }
    many([...batch.keys()]).then(
      (all) => {
        const grouped = new Map<string, Row[]>();
        for (const row of all) {
          const key = keyOf(row);
          const group = grouped.get(key);
          if (group === undefined) grouped.set(key, [row]);
          else group.push(row);
        }
        for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(grouped.get(key) ?? []);
      },
      (error: unknown) => {
        // Unavailable: each lookup would have failed alone too. Anything else (one bad key?):
        // each key alone, so only its own requests fail.
        for (const [key, waiters] of batch) void settle(waiters, isDatabaseUnavailable(error) ? Promise.reject(error) : one(key));
      },
    );
  };
  return (key) =>
    new Promise<readonly Row[]>((resolve, reject) => {
      let waiters = pending.get(key);
      if (waiters === undefined) {
        waiters = [];
        pending.set(key, waiters);
        if (pending.size === 1) setImmediate(flush);
      }
      waiters.push({ resolve, reject });
    });
}

const KEYS_BY_APPLICATION = `${SELECT_KEYS} WHERE k."applicationId" = $1 ORDER BY k."id"`;
const USE_ASSERTION = useAssertion(["$1", "$2", "$3::timestamp(3)", "$4::timestamp(3)"]);
const INSTALLATION_BY_ID = `${SELECT_INSTALLATION} WHERE i."id" = $1`;
const INSTALLATIONS_BY_IDS = `${SELECT_INSTALLATION} WHERE i."id" = ANY($1::text[])`;
/** An access token alone, only while its installation is active with the scopes read (locked FOR SHARE, as consumeAndInsert does). */
const ISSUE_ACCESS_TOKEN = `WITH installation AS (
      SELECT 1 FROM "Installation" WHERE "id" = $${N + 1} AND "status" = 'active' AND "scopes" = $${N + 2} FOR SHARE
    )
    INSERT INTO "Token" (${NEW_TOKEN_COLUMNS})
    SELECT ${TOKEN_PARAMS}
    FROM installation
    RETURNING "id"`;
/**
 * ISSUE_ACCESS_TOKEN for many at once (group commit, see batched): the columns of each
 * token, then the installation scopes each was issued for, as arrays. Each token is
 * inserted only if its own installation is active with those scopes. Returns the ids
 * of the tokens inserted.
 */
const ISSUE_ACCESS_TOKENS = `WITH input AS (
      SELECT * FROM unnest(${TOKEN_ARRAYS}, $${N + 1}::text[]) AS u(${TOKEN_FIELDS.join(", ")}, "installationScopes_")
    ), installation AS (
      SELECT "id", "scopes" FROM "Installation" WHERE "id" IN (SELECT "installationId" FROM input) AND "status" = 'active' FOR SHARE
    )
    INSERT INTO "Token" (${NEW_TOKEN_COLUMNS})
    SELECT ${TOKEN_FIELDS.map((field) => `input.${field}`).join(", ")}
    FROM input JOIN installation i ON i."id" = input."installationId" AND i."scopes" = input."installationScopes_"
    RETURNING "id"`;

const EXCHANGE_CODE = consumeAndInsert("Grant", `"consumedAt" IS NULL AND "revokedAt" IS NULL AND "expiresAt" > $${N + 2}::timestamp(3)`);
// The installation is the one the accept recorded: the grant copies it into the token, $N+1.
const EXCHANGE_DEVICE_CODE = consumeAndInsert(
  "DeviceAuthorization",
  `${DEVICE_EXCHANGEABLE(`$${N + 2}::timestamp(3)`)} AND "installationId" = $${N + 1}`,
);
const DEVICE_BY_HASH = `${SELECT_DEVICE} WHERE d."deviceCodeHash" = $1`;
const RECORD_POLL = `UPDATE "DeviceAuthorization" SET "lastPolledAt" = $1::timestamp(3)
    WHERE "id" = $2 AND "lastPolledAt" IS NOT DISTINCT FROM $3::timestamp(3)`;
const SLOW_DOWN = `UPDATE "DeviceAuthorization" SET "interval" = "interval" + $1, "lastPolledAt" = $2::timestamp(3) WHERE "id" = $3`;
/** A client secret's SHA-256, once (TokenStore.fillSecretLookupHash). */
const FILL_SECRET_LOOKUP = `UPDATE "ClientSecret" SET "lookupHash" = $1 WHERE "id" = $2 AND "lookupHash" IS NULL`;
const ROTATE = consumeAndInsert("Token", `"rotatedAt" IS NULL AND "revokedAt" IS NULL AND "refreshExpiresAt" > $${N + 2}::timestamp(3)`);

/** NewToken's values as the driver takes them, each DateTime as UTC ISO text. */
type Params<F extends readonly NewTokenField[]> = { -readonly [I in keyof F]: F[I] extends NewTokenField ? Param<NewToken[F[I]]> : never };
type Param<V> = V extends Date ? string : V;

/** In NEW_TOKEN_FIELDS order: the type checks each position's type and the count. */
const tokenValues = (t: NewToken): Params<typeof NEW_TOKEN_FIELDS> => [
  t.id,
  t.accessTokenHash,
  t.refreshTokenHash,
  t.applicationId,
  t.installationId,
  t.clientId,
  t.account,
  t.codeId,
  t.familyId,
  t.generation,
  t.parentId,
  t.scopes,
  ts(t.createdAt),
  ts(t.accessExpiresAt),
  ts(t.refreshExpiresAt),
];

// A revocation's event and its webhook delivery (only when the application has a
// webhook URL: the INSERT … SELECT decides), in EVENT_FIELDS and DELIVERY_FIELDS order.
const INSERT_EVENT = `INSERT INTO "Event" (${EVENT_COLUMNS}) VALUES ($1, $2::timestamp(3), $3, $4, $5, $6, $7, $8, $9, $10)`;
const INSERT_DELIVERY = `INSERT INTO "WebhookDelivery" (${DELIVERY_COLUMNS})
  SELECT $1, $2, a."id", $4, $5, $6, $7, $8, $9::timestamp(3), $10, $11::int, $12::timestamp(3), $13::timestamp(3)
  FROM "Application" a WHERE a."id" = $3 AND a."webhookUrl" IS NOT NULL`;

const eventValues = (e: EventRow) => [
  e.id,
  ts(e.occurredAt),
  e.type,
  e.actorType,
  e.actorId,
  e.applicationId,
  e.installationId,
  e.requestId,
  e.sourceIp,
  e.data,
];
const deliveryValues = (d: DeliveryRow) => [
  d.id,
  d.eventId,
  d.applicationId,
  d.installationId,
  d.type,
  d.payload,
  d.codeEncrypted,
  d.codeId,
  d.codeExpiresAt === null ? null : ts(d.codeExpiresAt),
  d.status,
  d.attempts,
  ts(d.nextAttemptAt),
  ts(d.createdAt),
];

type Queryable = Pick<pg.PoolClient, "query">;

async function recordEvent(client: Queryable, event: RevocationEvent, now: Date, revoked: number): Promise<void> {
  const rows = revocationRows(event, now, revoked);
  await client.query(INSERT_EVENT, eventValues(rows.event));
  if (rows.delivery) await client.query(INSERT_DELIVERY, deliveryValues(rows.delivery));
}

/** Runs `fn` in a transaction on one of the pool's connections (`wrap` traces its statements). */
async function inTransaction<T>(pool: pg.Pool, wrap: (client: Queryable) => Queryable, fn: (client: Queryable) => Promise<T>): Promise<T> {
  const connection = await pool.connect();
  const client = wrap(connection);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError; // the connection is in no state to be reused
    });
    throw error;
  } finally {
    connection.release(broken);
  }
}

const REVOKE_FAMILY = `UPDATE "Token" SET "revokedAt" = $1, "revokedReason" = $2 WHERE "familyId" = $3 AND "revokedAt" IS NULL`;

async function revokeFamilyOn(client: Queryable, familyId: string, now: Date, reason: string): Promise<number> {
  // A rotation committing while the UPDATE runs adds a member it does not see (src/shared/family-revocation.ts).
  return revokeUntilNoneLive(async () => (await client.query(REVOKE_FAMILY, [ts(now), reason, familyId])).rowCount ?? 0);
}

const REVOKE_TOKEN = `UPDATE "Token" SET "revokedAt" = $1, "revokedReason" = $2 WHERE "id" = $3 AND "revokedAt" IS NULL`;

/** The span attributes every statement shares: the database, its schema and where it is (never the credentials). */
function databaseAttributes(location: PostgresLocation | undefined): Attributes {
  if (location === undefined) return { [ATTR.dbSystemName]: "postgresql" };
  const url = new URL(location.connectionString);
  const database = decodeURIComponent(url.pathname.slice(1));
  return {
    [ATTR.dbSystemName]: "postgresql",
    [ATTR.dbNamespace]: database === "" ? location.schema : `${database}|${location.schema}`,
    [ATTR.serverAddress]: url.hostname.replace(/^\[|\]$/g, "") || undefined,
    [ATTR.serverPort]: url.port === "" ? 5432 : Number(url.port),
  };
}

/** A Queryable whose every statement is a client span (src/storage/traced-statements.ts), described once per text. */
function tracedQueries(queryable: Queryable, tracing: Tracing, base: Attributes, described: Map<string, StatementInfo>): Queryable {
  const query = (text: string, values?: unknown[]) => {
    let info = described.get(text);
    if (info === undefined) {
      info = describeStatement(text, base);
      described.set(text, info);
    }
    return inSpanAsync(tracing, info, () => queryable.query(text, values));
  };
  return { query: query as Queryable["query"] };
}

/**
 * Named statements: each of this file's statements is parsed and planned once per pooled
 * connection (pg prepares a name on first use on each connection), not at every call.
 * The texts are constants, so the names stay few. Behind PgBouncer in transaction mode,
 * this needs PgBouncer 1.21+ (max_prepared_statements).
 */
function preparedQueries(queryable: Queryable): Queryable {
  const names = new Map<string, string>();
  const query = (text: string, values?: unknown[]) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `appgrant_${names.size + 1}`;
      names.set(text, name);
    }
    return queryable.query({ name, text, values });
  };
  return { query: query as Queryable["query"] };
}

export function createPostgresTokenStore(pool: pg.Pool, tracing: Tracing = NO_TRACING, location?: PostgresLocation): OAuthStore {
  // The statements are this file's constants: the descriptions stay few.
  const described = new Map<string, StatementInfo>();
  const base = tracing.enabled ? databaseAttributes(location) : {};
  const wrap = tracing.enabled ? (queryable: Queryable) => tracedQueries(queryable, tracing, base, described) : (queryable: Queryable) => queryable;
  const db = wrap(preparedQueries(pool));
  /** A statement over one key (its rows); with tracing off, batched with the turn's others of its kind (batchedReads). */
  const reads = <Row>(single: string, plural: string, keyOf: (row: Row) => string) => {
    const one = async (key: string) => (await db.query<Row & pg.QueryResultRow>(single, [key])).rows;
    return tracing.enabled ? one : batchedReads(one, async (keys) => (await db.query<Row & pg.QueryResultRow>(plural, [keys])).rows, keyOf);
  };
  const clientRows = reads<ClientSecretsRow<Date>>(CLIENT_BY_ID, CLIENTS_BY_IDS, (row) => row.clientId);
  const codeRows = reads<CodeRow<Date>>(CODE_BY_HASH, CODES_BY_HASHES, (row) => row.codeHash);
  const installationRows = reads<InstallationRow>(INSTALLATION_BY_ID, INSTALLATIONS_BY_IDS, (row) => row.id);
  const tokenRows = reads<TokenRow<Date>>(TOKEN_BY_ID, TOKENS_BY_IDS, (row) => row.id);
  const introspectionRows = reads<IntrospectionRow<Date>>(INTROSPECTION_BY_ID, INTROSPECTIONS_BY_IDS, (row) => row.id);
  const introspect = async (lookup: TokenLookup) =>
    lookup.selector === null
      ? (await db.query<IntrospectionRow<Date>>(INTROSPECTION_BY_LEGACY_HASH, [lookup.hash])).rows[0]
      : (await introspectionRows(lookup.selector))[0];
  /** Runs a batched consume-and-insert: whether each request's token was inserted. */
  const consumeMany = (statement: string) => async (requests: Consume[]) => {
    const { rows } = await db.query<{ id: string }>(statement, consumeArrays(requests));
    const inserted = new Set(rows.map((row) => row.id));
    return requests.map((request) => inserted.has(request.token.id));
  };
  const consumeOne = (statement: string) => async (request: Consume) =>
    (await db.query(statement, [...tokenValues(request.token), request.token.installationId, ts(request.now), request.consumed, request.scopes]))
      .rowCount === 1;
  // With tracing on, each request's statement stays its own span in its own trace: no batches
  // (a statement shared by several requests could be a span of only one of them).
  const group = <R>(many: (requests: R[]) => Promise<boolean[]>, one: (request: R) => Promise<boolean>) =>
    tracing.enabled ? one : batched(many, one);
  const exchangeCode = group(consumeMany(EXCHANGE_CODES), consumeOne(EXCHANGE_CODE));
  const rotate = group(consumeMany(ROTATE_MANY), consumeOne(ROTATE));
  type Issue = { token: NewToken; installationScopes: string };
  const issueAccessToken = group(
    async (requests: Issue[]) => {
      const { rows } = await db.query<{ id: string }>(ISSUE_ACCESS_TOKENS, [
        ...tokenArrays(requests.map((request) => request.token)),
        requests.map((request) => request.installationScopes),
      ]);
      const inserted = new Set(rows.map((row) => row.id));
      return requests.map((request) => inserted.has(request.token.id));
    },
    async ({ token, installationScopes }: Issue) =>
      (await db.query(ISSUE_ACCESS_TOKEN, [...tokenValues(token), token.installationId, installationScopes])).rowCount === 1,
  );
  return {
    async findClient(clientId, now) {
      return clientRecordAt(await clientRows(clientId), now, postgres);
    },

    async findCodeByHash(codeHash) {
      const [row] = await codeRows(codeHash);
      return row ? codeRecord(row, postgres) : null;
    },

    exchangeCode(codeId, now, token) {
      return exchangeCode({ token, now, consumed: codeId, scopes: token.scopes });
    },

    async findTokenByRefresh(lookup) {
      const rows =
        lookup.selector === null ? (await db.query<TokenRow<Date>>(TOKEN_BY_LEGACY_HASH, [lookup.hash])).rows : await tokenRows(lookup.selector);
      const row = matching(rows[0], "refreshTokenHash", lookup);
      return row ? tokenRecord(row, postgres) : null;
    },

    async findSuccessor(parentId) {
      const { rows } = await db.query<TokenRow<Date>>(TOKEN_BY_PARENT, [parentId]);
      return rows[0] ? tokenRecord(rows[0], postgres) : null;
    },

    rotate(parentId, now, successor, parentScopes) {
      return rotate({ token: successor, now, consumed: parentId, scopes: parentScopes });
    },

    async findByAccess(lookup) {
      const row = matching(await introspect(lookup), "accessTokenHash", lookup);
      return row ? introspectionRecord(row, postgres) : null;
    },

    async findByRefresh(lookup) {
      const row = matching(await introspect(lookup), "refreshTokenHash", lookup);
      return row ? introspectionRecord(row, postgres) : null;
    },

    async revokeToken(tokenId, now, reason, event) {
      if (event === undefined) return (await db.query(REVOKE_TOKEN, [ts(now), reason, tokenId])).rowCount === 1;
      return inTransaction(pool, wrap, async (client) => {
        const revoked = (await client.query(REVOKE_TOKEN, [ts(now), reason, tokenId])).rowCount ?? 0;
        if (recordsEvent(event, revoked)) await recordEvent(client, event, now, revoked);
        return revoked === 1;
      });
    },

    async revokeFamily(familyId, now, reason, event) {
      if (event === undefined) return revokeFamilyOn(db, familyId, now, reason);
      return inTransaction(pool, wrap, async (client) => {
        const revoked = await revokeFamilyOn(client, familyId, now, reason);
        if (recordsEvent(event, revoked)) await recordEvent(client, event, now, revoked);
        return revoked;
      });
    },

    async fillSecretLookupHash(secretId, lookupHash) {
      await db.query(FILL_SECRET_LOOKUP, [lookupHash, secretId]);
    },

    async findClientKeys(applicationId) {
      return (await db.query<KeyRow>(KEYS_BY_APPLICATION, [applicationId])).rows;
    },

    async useAssertionId(assertionId, applicationId, expiresAt, now) {
      return (await db.query(USE_ASSERTION, [assertionId, applicationId, ts(expiresAt), ts(now)])).rowCount === 1;
    },

    async findInstallation(installationId) {
      const [row] = await installationRows(installationId);
      return row ? installationRecord(row) : null;
    },

    issueAccessToken(token, installationScopes) {
      return issueAccessToken({ token, installationScopes });
    },

    async findDeviceAuthorization(deviceCodeHash) {
      const { rows } = await db.query<DeviceRow<Date>>(DEVICE_BY_HASH, [deviceCodeHash]);
      return rows[0] ? deviceRecord(rows[0], postgres) : null;
    },

    async recordPoll(id, now, previous) {
      return (await db.query(RECORD_POLL, [ts(now), id, previous === null ? null : ts(previous)])).rowCount === 1;
    },

    async slowDown(id, now) {
      await db.query(SLOW_DOWN, [SLOW_DOWN_STEP, ts(now), id]);
    },

    async exchangeDeviceCode(id, now, token) {
      const { rowCount } = await db.query(EXCHANGE_DEVICE_CODE, [...tokenValues(token), token.installationId, ts(now), id, token.scopes]);
      return rowCount === 1;
    },

    async ping() {
      await db.query("SELECT 1");
    },

    async close() {
      // The pool belongs to the Database that opened it.
    },
  };
}
