// Where the database is and how long the process waits on it: DATABASE_URL parsed
// once (src/main/config.ts), never re-read from a string elsewhere.
import { resolve } from "node:path";
import { ConfigError } from "../shared/config-error.js";

export type DatabaseLocation = { kind: "sqlite" /** Absolute path of the database file. */; path: string } | PostgresLocation;

export interface PostgresLocation {
  kind: "postgres";
  /** DATABASE_URL as configured (Prisma's convention, `?schema=` included): for Prisma Studio. */
  url: string;
  /** The URL pg connects with: `schema` removed. */
  connectionString: string;
  /** Prisma's `?schema=`, default public: every table of appgrant lives there. */
  schema: string;
}

/** How long the process waits on its database; past a deadline the request gets 503 + Retry-After. */
export interface DatabaseSettings {
  /** PostgreSQL: connections per process (APPGRANT_PG_POOL_SIZE), shared by Prisma and the token endpoint. */
  poolSize: number;
  /** PostgreSQL: ms to open a connection, and to wait for a free one in the pool (APPGRANT_DB_CONNECT_TIMEOUT). */
  connectTimeoutMs: number;
  /**
   * ms one statement may take, lock waits included (APPGRANT_DB_QUERY_TIMEOUT): PostgreSQL's
   * statement_timeout and the client's own read deadline; on SQLite, how long a write may wait
   * for the write lock another process holds, counted from when it was queued.
   */
  queryTimeoutMs: number;
  /** ms within which /readyz answers (APPGRANT_READY_TIMEOUT). */
  readyTimeoutMs: number;
  /**
   * SQLite: checkpoint the WAL in a worker thread, never inside a commit on the event
   * loop (src/storage/checkpointer.ts): APPGRANT_SQLITE_BACKGROUND_CHECKPOINTS, true by
   * default in the server; a CLI command checkpoints inline.
   */
  backgroundCheckpoints?: boolean;
  /** SQLite, with background checkpoints: the WAL size past which writes pause for the checkpoint to catch up (tests set it small). */
  walRestartBytes?: number;
  /**
   * SQLite: ms a statement may block the process waiting for another process's lock.
   * 0 (the default) in the server, whose event loop must not freeze (the write lock
   * waits instead, asynchronously); a CLI command, one per process, may block.
   */
  sqliteBusyTimeoutMs?: number;
}

export const DEFAULT_DATABASE_SETTINGS: DatabaseSettings = { poolSize: 10, connectTimeoutMs: 2000, queryTimeoutMs: 3000, readyTimeoutMs: 1000 };

/**
 * A DATABASE_URL: `file:<path>` (SQLite, relative to `cwd`) or `postgresql://…`
 * (PostgreSQL, with Prisma's `?schema=`). Errors name DATABASE_URL.
 */
export function parseDatabaseUrl(url: string, cwd: string = process.cwd()): DatabaseLocation {
  if (url.startsWith("file:")) {
    const path = url.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new ConfigError("DATABASE_URL", "a file: URL needs a path, e.g. file:./data/appgrant.db");
    return { kind: "sqlite", path: resolve(cwd, path) };
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError("DATABASE_URL", "must start with file: (SQLite) or postgresql:// (PostgreSQL)");
  return parsePostgresUrl(url);
}

/** A postgresql:// URL with Prisma's `?schema=` convention; everything else in the URL goes to pg as is. */
export function parsePostgresUrl(url: string): PostgresLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("DATABASE_URL", "is not a valid postgresql:// URL");
  }
  const schema = parsed.searchParams.get("schema") ?? "public";
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new ConfigError("DATABASE_URL", `invalid schema name "${schema}"`);
  parsed.searchParams.delete("schema");
  return { kind: "postgres", url, connectionString: parsed.toString(), schema };
}

/** Where the database is, for messages: the SQLite path, or the PostgreSQL URL without its credentials. */
export function describeDatabase(location: DatabaseLocation): string {
  if (location.kind === "sqlite") return location.path;
  const url = new URL(location.url);
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}
