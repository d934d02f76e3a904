// PostgreSQL connection settings shared by Prisma (through @prisma/adapter-pg) and
// the token endpoint's store: one pg.Pool per process for both.
//
// Every connection has deadlines (connect and pool acquire, each statement on both
// sides of the wire, an idle transaction on the server, TCP keepalive) and nothing a
// connection does can end the process: a lost connection fails the statements that
// used it, the pool replaces it, and the database's DependencyStatus logs the outage.
import pg from "pg";
import { DEFAULT_DATABASE_SETTINGS, type DatabaseSettings, type PostgresLocation } from "./settings.js";
import { DependencyStatus } from "../shared/dependency-status.js";
import { isDatabaseUnavailable } from "../shared/database-unavailable.js";

/** What operators see in pg_stat_activity, unless DATABASE_URL sets its own application_name. */
export const APPLICATION_NAME = "appgrant";
/**
 * The server ends a transaction left idle this long (a process stalled or cut off in
 * the middle of one), so its row locks do not block every other process.
 */
const IDLE_IN_TRANSACTION_MS = 10_000;
/**
 * The client's own read deadline runs this much past the server's statement_timeout:
 * a statement that is merely slow is cancelled by the server, which keeps the
 * connection; the client's deadline is for a server or network that does not answer
 * at all, and costs the connection.
 */
const SERVER_CANCEL_GRACE_MS = 250;
/** TCP keepalive finds a peer that vanished without closing (a dead host, a dropped route). */
const KEEPALIVE_DELAY_MS = 10_000;
/** Connection settings of every pg client appgrant opens (the pool's, the migrations'). */
export function connectionDeadlines(settings: Pick<DatabaseSettings, "connectTimeoutMs">): pg.ClientConfig {
  return {
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
  };
}

const TIMESTAMP_OID = 1114;

/** pg's message when query_timeout passes: the statement may still be running, its answer still due. */
const READ_TIMEOUT = "Query read timeout";

type Callback = (error: unknown, ...rest: unknown[]) => unknown;

/**
 * Calls `method` and reports its outcome to `settle`, whether the caller passed a
 * callback (pg-pool does) or awaits the promise (Prisma's transactions do).
 */
function observe(method: (...args: unknown[]) => unknown, args: unknown[], settle: (error: unknown) => void): unknown {
  const last = args.at(-1);
  if (typeof last === "function") {
    return method(...args.slice(0, -1), (error: unknown, ...rest: unknown[]) => {
      settle(error);
      return (last as Callback)(error, ...rest);
    });
  }
  const result = method(...args);
  if (!(result instanceof Promise)) return result;
  return result.then(
    (value: unknown) => {
      settle(undefined);
      return value;
    },
    (error: unknown) => {
      settle(error);
      throw error;
    },
  );
}

/**
 * The pool's client class:
 * - it always has an 'error' listener: pg-pool listens only while a client is idle or
 *   inside pool.query, Prisma only inside its transactions, and an 'error' event with
 *   no listener ends the process;
 * - a statement that passed its deadline leaves the connection waiting for an answer
 *   that may never come, with everything else queued behind it: the connection is
 *   destroyed, so the pool drops it (and the server, seeing it close, rolls back);
 * - every connect and statement tells `status` whether the database answered.
 */
function clientClass(status: DependencyStatus, open: Set<pg.Client>) {
  let lastAnswer = 0;
  const settle = (client: pg.Client, startedAt: number, error: unknown) => {
    if (error instanceof Error && error.message === READ_TIMEOUT) client.connection.stream.destroy();
    // A server error (a constraint, a syntax error) is an answer too: the database is up.
    if (error === undefined || error === null || !isDatabaseUnavailable(error)) {
      lastAnswer = performance.now();
      return status.succeeded();
    }
    // A call begun before the database last answered (a connection attempt that
    // started during an outage and fails just after it) says nothing of now: it
    // must not open a second outage right after the first one ended.
    if (startedAt >= lastAnswer) status.failed(error);
  };
  return class GuardedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // Lost connections are reported by the statements that used them and, for idle
      // ones, by the pool's 'error' event.
      this.on("error", () => undefined);
      open.add(this);
      this.once("end", () => open.delete(this));
      const self = this as unknown as Record<"query" | "connect", (...args: unknown[]) => unknown>;
      for (const name of ["query", "connect"] as const) {
        const method = self[name].bind(this);
        self[name] = (...args: unknown[]) => {
          const startedAt = performance.now();
          return observe(method, args, (error) => settle(this, startedAt, error));
        };
      }
    }
  };
}

export interface Pool {
  pool: pg.Pool;
  schema: string;
  /** Ends the pool, waiting at most `ms` for connections in use; then destroys them. */
  end(ms: number): Promise<void>;
}

export function createPool(
  location: PostgresLocation,
  settings: DatabaseSettings = DEFAULT_DATABASE_SETTINGS,
  status: DependencyStatus = new DependencyStatus("database", { error() {}, info() {} }),
): Pool {
  const { connectionString, schema } = location;
  const open = new Set<pg.Client>();
  const pool = new pg.Pool({
    ...connectionDeadlines(settings),
    // Settings in the URL's query (application_name, statement_timeout…) override these: pg merges them last.
    connectionString,
    max: settings.poolSize,
    Client: clientClass(status, open),
    query_timeout: settings.queryTimeoutMs + SERVER_CANCEL_GRACE_MS,
    statement_timeout: settings.queryTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    // Unqualified table names in the token store's SQL resolve to the configured schema.
    options: `-c search_path="${schema}"`,
    // Prisma stores DateTime as timestamp(3) without time zone, in UTC; read it as UTC
    // whatever the process's time zone.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMP_OID && format !== "binary"
          ? (value: string) => new Date(`${value.replace(" ", "T")}Z`)
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection lost (terminated backend, server restart, a proxy's idle
  // timeout): the pool has dropped it and no request failed, but the database may be
  // going away; the next answer ends the outage this opens.
  pool.on("error", (error) => status.failed(error));
  return {
    pool,
    schema,
    async end(ms) {
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        pool.end().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
      ]);
      clearTimeout(timer);
      if (!ended) for (const client of open) client.connection.stream.destroy();
    },
  };
}
