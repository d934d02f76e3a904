// A request the server cannot serve right now, through no fault of the client: 503,
// answered by each context in its own error shape (OAuth: temporarily_unavailable;
// admin API and the rest: {statusCode, code, error, message}; health probes: {status}).
// The message is public. Two causes raise it: a shutdown in progress (src/main/shutdown.ts)
// and a database that does not answer (src/shared/database-unavailable.ts), which asUnavailable
// turns into one of these, so each error handler has a single branch for both.
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from "./database-unavailable.js";

export class ServiceUnavailableError extends Error {
  override name = "ServiceUnavailableError";
  readonly statusCode = 503;

  constructor(
    message: string,
    /** The health endpoints' shape is {status}: their 503 schema serializes this field. */
    readonly status: string,
    /** Seconds, sent as Retry-After when set. */
    readonly retryAfter?: number,
    /** The admin API's `code`. */
    readonly code: string = "unavailable",
  ) {
    super(message);
  }
}

/** The 503 an error stands for, or undefined when it is not an unavailability. */
export function asUnavailable(error: unknown): ServiceUnavailableError | undefined {
  if (error instanceof ServiceUnavailableError) return error;
  if (!isDatabaseUnavailable(error)) return undefined;
  // Logged once per outage by the database's status (src/shared/dependency-status.ts), not per request.
  return new ServiceUnavailableError(
    "the database is temporarily unavailable; retry later",
    "database unavailable",
    DATABASE_RETRY_AFTER_SECONDS,
    "database_unavailable",
  );
}
