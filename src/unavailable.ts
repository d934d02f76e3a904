// A request the server cannot serve right now, through no fault of the client: 503,
// answered by each context in its own error shape (OAuth: temporarily_unavailable;
// admin API and the rest: {statusCode, code, error, message}). The message is public.
export class ServiceUnavailableError extends Error {
  override name = "ServiceUnavailableError";
  readonly statusCode = 503;
  readonly code = "unavailable";

  constructor(
    message: string,
    /** The health endpoints' shape is {status}: their 503 schema serializes this field. */
    readonly status: string,
    /** Seconds, sent as Retry-After when set. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}
