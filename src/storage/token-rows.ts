// The token stores' rows, typed by the generated Prisma model (prisma/schema.prisma).
// Each hot-path column list is written once, here, and checked against the model's
// fields: a renamed or retyped field fails `tsc`. The lists build the SQL both stores
// share (once, at module load) and the row types their drivers return; one mapper per
// record serves both dialects, which differ only in how a DateTime comes back.
import type {
  Application,
  ApplicationKey,
  AuthorizationCode,
  ClientSecret,
  DeviceAuthorization,
  Installation,
  Token,
} from "../generated/prisma/client.js";
import type { DeviceAuthorizationRecord } from "../oauth/device-authorization.js";
import type { InstallationRecord } from "../oauth/installation-token.js";
import { hashesEqual } from "../crypto/tokens.js";
import type { ClientRecord, CodeRecord, IntrospectionRecord, NewToken, TokenLookup, TokenRecord } from "../oauth/token-store.js";

/** How one driver returns a DateTime column: better-sqlite3 as ISO-8601 text, pg as a Date. */
export interface Dialect<Time> {
  date(value: Time): Date;
}

/** A model's fields as a driver returns them: each DateTime as the dialect's Time. */
export type Wire<M, Time> = { [K in keyof M]: M[K] extends Date ? Time : M[K] extends Date | null ? Time | null : M[K] };

/** Columns of a joined model, named differently in the row: { rowName: modelField }. */
type Joined<M, J extends Record<string, keyof M>> = { [K in keyof J]: M[J[K]] };

/** Database column names that differ from the Prisma field (@map). */
const TOKEN_COLUMN_NAMES: { readonly [K in keyof Token]?: string } = { codeId: "grantId" };

/** `alias."column"` for each field, `AS "field"` where @map renamed the column. */
function columns<M>(alias: string, fields: readonly (keyof M & string)[], names: { readonly [K in keyof M]?: string } = {}): string[] {
  return fields.map((field) => {
    const column = names[field] ?? field;
    return column === field ? `${alias}."${field}"` : `${alias}."${column}" AS "${field}"`;
  });
}

/** A joined table's columns under their row names. */
function joined(alias: string, as: Record<string, string>): string[] {
  return Object.entries(as).map(([name, field]) => (name === field ? `${alias}."${field}"` : `${alias}."${field}" AS "${name}"`));
}

const dateOrNull = <Time>(dialect: Dialect<Time>, value: Time | null): Date | null => (value === null ? null : dialect.date(value));

// ---- Client: the application and, one row each, its active secrets' hashes (and whether a leak report can find them).

const CLIENT_FIELDS = ["id", "clientId", "clientType", "grantTypes"] as const satisfies readonly (keyof Application)[];
const CLIENT_SECRET = { secretId: "id", secretHash: "secretHash", lookupHash: "lookupHash" } as const satisfies Record<string, keyof ClientSecret>;

/** One row per secret, or one row with a null secretHash (LEFT JOIN). */
export type ClientRow = Pick<Application, (typeof CLIENT_FIELDS)[number]> & {
  [K in keyof typeof CLIENT_SECRET]: ClientSecret[(typeof CLIENT_SECRET)[K]] | null;
};

/** One row per secret whatever its expiry, with the expiry: `WHERE a."clientId" = <placeholder>` follows (both stores filter the expired ones at the request's time). */
export const SELECT_CLIENT_ALL_SECRETS = `SELECT ${[...columns<Application>("a", CLIENT_FIELDS), ...joined("s", CLIENT_SECRET), `s."expiresAt"`].join(", ")}
    FROM "Application" a
    LEFT JOIN "ClientSecret" s ON s."applicationId" = a."id"`;

export type ClientSecretsRow<Time> = ClientRow & { expiresAt: Time | null };

/** The client with the secrets of `rows` still active at `now`. */
export function clientRecordAt<Time>(rows: readonly ClientSecretsRow<Time>[], now: Date, dialect: Dialect<Time>): ClientRecord | null {
  return clientRecord(rows.filter((row) => row.expiresAt === null || dialect.date(row.expiresAt) > now));
}

export function clientRecord(rows: readonly ClientRow[]): ClientRecord | null {
  const first = rows[0];
  if (!first) return null;
  return {
    id: first.id,
    clientId: first.clientId,
    clientType: first.clientType,
    grantTypes: first.grantTypes,
    secretHashes: rows.flatMap((row) => (row.secretHash === null ? [] : [row.secretHash])),
    secretsWithoutLookup: new Map(
      rows.flatMap((row) => (row.secretHash !== null && row.secretId !== null && row.lookupHash === null ? [[row.secretHash, row.secretId]] : [])),
    ),
  };
}

// ---- Authorization code, with its installation's status and account.

const CODE_FIELDS = [
  "id",
  "applicationId",
  "installationId",
  "scopes",
  "redirectUri",
  "codeChallenge",
  "codeChallengeMethod",
  "expiresAt",
  "consumedAt",
  "revokedAt",
  "codeHash", // what it was looked up by: the key of a batched lookup (PostgreSQL)
] as const satisfies readonly (keyof AuthorizationCode)[];
const CODE_INSTALLATION = { installationStatus: "status", account: "account" } as const satisfies Record<string, keyof Installation>;

export type CodeRow<Time> = Wire<Pick<AuthorizationCode, (typeof CODE_FIELDS)[number]>, Time> & Joined<Installation, typeof CODE_INSTALLATION>;

export const SELECT_CODE = `SELECT ${[...columns<AuthorizationCode>("g", CODE_FIELDS), ...joined("i", CODE_INSTALLATION)].join(", ")}
    FROM "Grant" g JOIN "Installation" i ON i."id" = g."installationId"`;

export function codeRecord<Time>(row: CodeRow<Time>, dialect: Dialect<Time>): CodeRecord {
  return {
    id: row.id,
    applicationId: row.applicationId,
    installationId: row.installationId,
    installationActive: row.installationStatus === "active",
    installationSuspended: row.installationStatus === "suspended",
    account: row.account,
    scopes: row.scopes,
    redirectUri: row.redirectUri,
    codeChallenge: row.codeChallenge,
    codeChallengeMethod: row.codeChallengeMethod,
    expiresAt: dialect.date(row.expiresAt),
    consumedAt: dateOrNull(dialect, row.consumedAt),
    revokedAt: dateOrNull(dialect, row.revokedAt),
  };
}

// ---- A new token pair: the INSERT's columns, in the order of its values.

export const NEW_TOKEN_FIELDS = [
  "id",
  "accessTokenHash",
  "refreshTokenHash",
  "applicationId",
  "installationId",
  "clientId",
  "account",
  "codeId",
  "familyId",
  "generation",
  "parentId",
  "scopes",
  "createdAt",
  "accessExpiresAt",
  "refreshExpiresAt",
] as const satisfies readonly (keyof Token & keyof NewToken)[];
export type NewTokenField = (typeof NEW_TOKEN_FIELDS)[number];

// ---- Token (refresh and rotation), with its installation's status: the new pair's
// columns and what rotation and revocation set later.
const TOKEN_FIELDS = [...NEW_TOKEN_FIELDS, "rotatedAt", "revokedAt"] as const satisfies readonly (keyof Token)[];
const TOKEN_INSTALLATION = { installationStatus: "status" } as const satisfies Record<string, keyof Installation>;

export type TokenRow<Time> = Wire<Pick<Token, (typeof TOKEN_FIELDS)[number]>, Time> & Joined<Installation, typeof TOKEN_INSTALLATION>;

export const SELECT_TOKEN = `SELECT ${[...columns<Token>("t", TOKEN_FIELDS, TOKEN_COLUMN_NAMES), ...joined("i", TOKEN_INSTALLATION)].join(", ")}
    FROM "Token" t JOIN "Installation" i ON i."id" = t."installationId"`;

export function tokenRecord<Time>(row: TokenRow<Time>, dialect: Dialect<Time>): TokenRecord {
  return {
    id: row.id,
    accessTokenHash: row.accessTokenHash,
    refreshTokenHash: row.refreshTokenHash,
    applicationId: row.applicationId,
    installationId: row.installationId,
    installationActive: row.installationStatus === "active",
    installationSuspended: row.installationStatus === "suspended",
    clientId: row.clientId,
    account: row.account,
    codeId: row.codeId,
    familyId: row.familyId,
    generation: row.generation,
    parentId: row.parentId,
    scopes: row.scopes,
    createdAt: dialect.date(row.createdAt),
    accessExpiresAt: dialect.date(row.accessExpiresAt),
    refreshExpiresAt: dialect.date(row.refreshExpiresAt),
    rotatedAt: dateOrNull(dialect, row.rotatedAt),
    revokedAt: dateOrNull(dialect, row.revokedAt),
  };
}

// ---- Introspection: the one token row, and its installation's status (a primary-key
// join: a suspended installation's tokens are inactive without touching them).

const INTROSPECTION_FIELDS = [
  "id",
  "accessTokenHash",
  "refreshTokenHash",
  "applicationId",
  "clientId",
  "installationId",
  "account",
  "familyId",
  "scopes",
  "createdAt",
  "accessExpiresAt",
  "refreshExpiresAt",
  "rotatedAt",
  "revokedAt",
] as const satisfies readonly (keyof Token)[];

export type IntrospectionRow<Time> = Wire<Pick<Token, (typeof INTROSPECTION_FIELDS)[number]>, Time> & Joined<Installation, typeof TOKEN_INSTALLATION>;

export const SELECT_INTROSPECTION = `SELECT ${[...columns<Token>("t", INTROSPECTION_FIELDS, TOKEN_COLUMN_NAMES), ...joined("i", TOKEN_INSTALLATION)].join(", ")}
    FROM "Token" t JOIN "Installation" i ON i."id" = t."installationId"`;

export function introspectionRecord<Time>(row: IntrospectionRow<Time>, dialect: Dialect<Time>): IntrospectionRecord {
  return {
    id: row.id,
    installationActive: row.installationStatus === "active",
    applicationId: row.applicationId,
    clientId: row.clientId,
    installationId: row.installationId,
    account: row.account,
    familyId: row.familyId,
    scopes: row.scopes,
    createdAt: dialect.date(row.createdAt),
    accessExpiresAt: dialect.date(row.accessExpiresAt),
    refreshExpiresAt: dialect.date(row.refreshExpiresAt),
    rotatedAt: dateOrNull(dialect, row.rotatedAt),
    revokedAt: dateOrNull(dialect, row.revokedAt),
  };
}

// ---- Finding a presented token (TokenLookup): by its selector, the row's primary key; a
// token issued before selectors by its hash in LegacyTokenHash. Either way the row counts
// only if the token's SHA-256 is the one stored for its kind (compared in constant time).

/** The id of the row a token without a selector belongs to; `param` is the hash's placeholder. */
export const legacyTokenId = (param: string) => `SELECT l."tokenId" FROM "LegacyTokenHash" l WHERE l."hash" = ${param}`;

/** The key a lookup's statement takes: the selector, or for a legacy token its hash. */
export const lookupKey = (lookup: TokenLookup): string => lookup.selector ?? lookup.hash;

/** `row` if the presented token is its access (or refresh) token. */
export function matching<R extends { accessTokenHash: string; refreshTokenHash: string | null }>(
  row: R | undefined,
  column: "accessTokenHash" | "refreshTokenHash",
  lookup: TokenLookup,
): R | null {
  return row !== undefined && hashesEqual(row[column], lookup.hash) ? row : null;
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time only: every field of NewToken is inserted, each with the model's type.
true satisfies Same<NewTokenField, keyof NewToken>;
true satisfies NewToken extends Pick<Token, NewTokenField> ? true : false;

/** The INSERT's column list, in NEW_TOKEN_FIELDS order. */
export const NEW_TOKEN_COLUMNS = NEW_TOKEN_FIELDS.map((field) => `"${TOKEN_COLUMN_NAMES[field] ?? field}"`).join(", ");

// ---- Application keys (client assertions) and installations (installation tokens).

const KEY_FIELDS = ["id", "kid", "alg", "publicJwk"] as const satisfies readonly (keyof ApplicationKey)[];
export type KeyRow = Pick<ApplicationKey, (typeof KEY_FIELDS)[number]>;
/** Then `WHERE k."applicationId" = <placeholder>`; oldest key first. */
export const SELECT_KEYS = `SELECT ${columns<ApplicationKey>("k", KEY_FIELDS).join(", ")} FROM "ApplicationKey" k`;

/**
 * Records a jti as used: inserted, or taking over an expired record of the same id;
 * nothing changes (0 rows) while an unexpired one exists. Placeholders: id,
 * applicationId, expiresAt, now (the dialect's, in that order).
 */
export const useAssertion = (p: [string, string, string, string]) =>
  `INSERT INTO "ClientAssertion" ("id", "applicationId", "expiresAt") VALUES (${p[0]}, ${p[1]}, ${p[2]})
    ON CONFLICT ("id") DO UPDATE SET "applicationId" = excluded."applicationId", "expiresAt" = excluded."expiresAt"
    WHERE "ClientAssertion"."expiresAt" <= ${p[3]}`;

const INSTALLATION_FIELDS = ["id", "applicationId", "account", "scopes", "status"] as const satisfies readonly (keyof Installation)[];
export type InstallationRow = Pick<Installation, (typeof INSTALLATION_FIELDS)[number]>;
/** Then `WHERE i."id" = <placeholder>`. */
export const SELECT_INSTALLATION = `SELECT ${columns<Installation>("i", INSTALLATION_FIELDS).join(", ")} FROM "Installation" i`;

export function installationRecord(row: InstallationRow): InstallationRecord {
  return {
    id: row.id,
    applicationId: row.applicationId,
    account: row.account,
    scopes: row.scopes,
    active: row.status === "active",
    suspended: row.status === "suspended",
  };
}

// ---- Device authorizations (the device code grant), with their installation's status once accepted.

const DEVICE_FIELDS = [
  "id",
  "applicationId",
  "status",
  "expiresAt",
  "interval",
  "lastPolledAt",
  "consumedAt",
  "installationId",
  "account",
  "grantedScopes",
] as const satisfies readonly (keyof DeviceAuthorization)[];
const DEVICE_INSTALLATION = { installationStatus: "status" } as const satisfies Record<string, keyof Installation>;

export type DeviceRow<Time> = Wire<Pick<DeviceAuthorization, (typeof DEVICE_FIELDS)[number]>, Time> & {
  [K in keyof typeof DEVICE_INSTALLATION]: Installation[(typeof DEVICE_INSTALLATION)[K]] | null;
};

/** Then `WHERE d."deviceCodeHash" = <placeholder>`. */
export const SELECT_DEVICE = `SELECT ${[...columns<DeviceAuthorization>("d", DEVICE_FIELDS), ...joined("i", DEVICE_INSTALLATION)].join(", ")}
    FROM "DeviceAuthorization" d LEFT JOIN "Installation" i ON i."id" = d."installationId"`;

export function deviceRecord<Time>(row: DeviceRow<Time>, dialect: Dialect<Time>): DeviceAuthorizationRecord {
  return {
    id: row.id,
    applicationId: row.applicationId,
    status: row.status,
    expiresAt: dialect.date(row.expiresAt),
    interval: row.interval,
    lastPolledAt: dateOrNull(dialect, row.lastPolledAt),
    consumedAt: dateOrNull(dialect, row.consumedAt),
    installationId: row.installationId,
    installationActive: row.installationStatus === "active",
    installationSuspended: row.installationStatus === "suspended",
    account: row.account,
    grantedScopes: row.grantedScopes,
  };
}

/** The consume's condition: accepted, unconsumed, unexpired (`now` is the dialect's placeholder). */
export const DEVICE_EXCHANGEABLE = (now: string) => `"status" = 'accepted' AND "consumedAt" IS NULL AND "expiresAt" > ${now}`;
