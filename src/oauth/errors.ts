// RFC 6749 §5.2 errors. The public description is fixed per call site and never
// carries internal detail; `detail` goes to the log only (and never a secret).
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "server_error"
  | "temporarily_unavailable"
  // RFC 8628 §3.5, the device code grant's answers while it is not (or no longer) answerable.
  | "authorization_pending"
  | "slow_down"
  | "access_denied"
  | "expired_token";

export class OAuthError extends Error {
  override name = "OAuthError";
  constructor(
    readonly error: OAuthErrorCode,
    readonly statusCode: number,
    readonly description: string,
    readonly detail?: string,
    /** Seconds, sent as Retry-After (429). */
    readonly retryAfter?: number,
  ) {
    super(`${error}: ${description}`);
  }

  toJSON() {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string, detail?: string) => new OAuthError("invalid_request", 400, description, detail);
/** 401; the route adds WWW-Authenticate when the client tried HTTP authentication (RFC 6749 §5.2). */
export const invalidClient = (description = "client authentication failed", detail?: string) =>
  new OAuthError("invalid_client", 401, description, detail);
export const invalidGrant = (description: string, detail?: string) => new OAuthError("invalid_grant", 400, description, detail);
export const unauthorizedClient = (description: string) => new OAuthError("unauthorized_client", 400, description);
export const unsupportedGrantType = (description = "unsupported grant_type") => new OAuthError("unsupported_grant_type", 400, description);
export const invalidScope = (description: string) => new OAuthError("invalid_scope", 400, description);
export const serverError = () => new OAuthError("server_error", 500, "the server could not complete the request");
/** RFC 8628 §3.5: every one a 400, like the other token endpoint errors. */
export const deviceError = (error: "authorization_pending" | "slow_down" | "access_denied" | "expired_token", description: string) =>
  new OAuthError(error, 400, description);

/** invalid_grant for a code or token whose installation is not active: suspended (it may come back) or gone. */
export const installationInactive = (installation: { installationSuspended: boolean }) =>
  invalidGrant(installation.installationSuspended ? "the installation is suspended" : "the installation is no longer active");

/** How many times a grant reads again and retries when a narrowing of the scopes raced it. */
export const SCOPE_RACE_ATTEMPTS = 3;
