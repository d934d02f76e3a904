// What the server counts for Prometheus, as a port: the layers that see an outcome
// report it here, and src/main/metrics.ts (prom-client) turns it into series served
// on the management listener. Label values are always bounded: route templates,
// methods, status codes, registered grant types, RFC 6749 error codes, fixed names.
// Never an account, a token or anything the caller chose; an authenticated client's
// client_id only where the operator opted in (APPGRANT_METRICS_PER_CLIENT).
/**
 * The rate limits, as the `limit` label of a refusal: per IP and per client requests at
 * the OAuth endpoints, failed client authentications per IP and per (client, IP), the
 * argon2 verifications a client's unrecognised secrets may cost per window, the public
 * credential revocation per IP, and unknown device user codes per IP.
 */
export const RATE_LIMITS = [
  "per_ip",
  "per_client",
  "auth_failures_per_ip",
  "auth_failures_per_client",
  "argon2_budget_per_client",
  "credential_revocation_per_ip",
  "device_lookup_failures_per_ip",
] as const;
export type RateLimitName = (typeof RATE_LIMITS)[number];

export interface Metrics {
  /** One HTTP request answered: the route template (or "unmatched"), method, status, seconds. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /**
   * One answer of a token-issuing endpoint: the grant type (registered, else "unknown";
   * "github_app" for the GitHub-compatible endpoint), "success" or the RFC 6749 error
   * code, and the authenticated client's client_id (undefined if it was not authenticated).
   */
  tokenRequest(grantType: string, outcome: string, clientId: string | undefined): void;
  /** A rotated refresh token retried within the grace period, answered with the same successor. */
  refreshReplay(): void;
  /** A reused authorization code or refresh token: its family revoked. */
  reuseDetected(kind: "code" | "refresh_token"): void;
  /** A failed client authentication, by the method the request used. */
  clientAuthFailure(method: string): void;
  /** A request refused by a rate limit (429), by the limit's name. */
  rateLimited(limit: RateLimitName): void;
  /** One introspection answer. */
  introspection(active: boolean): void;
  /** One webhook delivery attempt: delivered, retry (failed, will retry) or failed (gave up, refused). */
  webhookAttempt(outcome: "delivered" | "retry" | "failed"): void;
}

/** Counts nothing: what runs when metrics are off, and in code that was given none. */
export const NO_METRICS: Metrics = {
  httpRequest() {},
  tokenRequest() {},
  refreshReplay() {},
  reuseDetected() {},
  clientAuthFailure() {},
  rateLimited() {},
  introspection() {},
  webhookAttempt() {},
};
