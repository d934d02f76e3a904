// "The database is unavailable": the one definition every caller shares. Such a
// failure is not a bug of the request or of appgrant, and the same request may well
// succeed in a moment, so the endpoints answer it 503 + Retry-After in their own error
// shape instead of 500, and the outage is logged once (src/shared/dependency-status.ts)
// instead of once per request.
//
// The drivers and Prisma report the same condition in many forms; each form seen in
// the fault tests (test/fault/) is listed here:
// - pg: SQLSTATE codes of lost or refused connections and server-side deadlines, Node's
//   socket error codes, and pg's and pg-pool's own messages, which carry no code;
// - Prisma (adapter-pg, adapter-better-sqlite3): PrismaClientKnownRequestError codes,
//   with the driver's error under meta.driverAdapterError; errors Prisma's adapters do
//   not recognise (pg's timeouts) come through unwrapped;
// - SQLite: SQLITE_BUSY once the process has waited its deadline for the write lock
//   (src/storage/write-lock.ts turns that into a DatabaseUnavailableError).

/** Seconds a client is asked to wait (Retry-After) before trying again. */
export const DATABASE_RETRY_AFTER_SECONDS = 1;

/** appgrant's own verdict: a deadline passed or the database could not be reached. */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), the server shutting down or
 * starting (57P01–57P03), too many connections (53300), and the server-side deadlines
 * appgrant sets (57014 statement_timeout, 25P03 idle_in_transaction_session_timeout,
 * 55P03 lock_timeout).
 */
const POSTGRES_CODES = /^(08...|57P0[123]|53300|57014|25P03|55P03)$/;
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
]);
/** Can't reach (P1001), timed out (P1002, P1008), connection closed (P1017), pool timeout (P2024). */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** P2028 (transaction API) also covers misuse; only its deadlines mean "unavailable". */
const PRISMA_TRANSACTION_DEADLINE = /Unable to start a transaction in the given time|expired transaction/;
/** Prisma's driver-adapter error kinds for the same conditions. */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "SocketTimeout", "ConnectionClosed", "TooManyConnections"]);
/** pg and pg-pool report these without a code. */
const PG_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)/;

export function isSqliteBusy(error: unknown): boolean {
  return someLayer(error, (layer) => {
    const code = layer.code ?? layer.originalCode;
    return typeof code === "string" && code.startsWith("SQLITE_BUSY");
  });
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return someLayer(error, (layer) => {
    if (layer instanceof DatabaseUnavailableError) return true;
    const code = typeof layer.code === "string" ? layer.code : typeof layer.originalCode === "string" ? layer.originalCode : undefined;
    if (code !== undefined) {
      if (POSTGRES_CODES.test(code) || SOCKET_CODES.has(code) || PRISMA_CODES.has(code) || code.startsWith("SQLITE_BUSY")) return true;
      if (code === "P2028" && typeof layer.message === "string" && PRISMA_TRANSACTION_DEADLINE.test(layer.message)) return true;
    }
    if (typeof layer.kind === "string" && ADAPTER_KINDS.has(layer.kind)) return true;
    return typeof layer.message === "string" && PG_MESSAGES.test(layer.message);
  });
}

type Layer = { code?: unknown; originalCode?: unknown; kind?: unknown; message?: unknown };

/**
 * Tests the error and what it wraps: `cause` (pg-pool, DriverAdapterError) and
 * Prisma's meta.driverAdapterError, a few levels deep.
 */
function someLayer(error: unknown, test: (layer: Layer) => boolean, depth = 0): boolean {
  if (depth > 4 || error === null || typeof error !== "object") return false;
  const layer = error as Layer & { cause?: unknown; meta?: { driverAdapterError?: unknown } };
  if (test(layer)) return true;
  return someLayer(layer.cause, test, depth + 1) || someLayer(layer.meta?.driverAdapterError, test, depth + 1);
}
