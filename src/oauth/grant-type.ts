// The grant-type contract. The token route authenticates the client, looks the grant
// type up by its wire name, hands it only the parameters it declares, and serialises
// what it returns or throws. Adding a grant type (device code, JWT bearer…) means
// writing one module that implements GrantType and adding it to GRANT_TYPES
// (src/oauth/grants/index.ts) — the route does not change. A grant that needs data the
// core TokenStore does not offer declares the storage it needs as its type parameter
// (GrantType<TokenStore & ItsCapability>, fosite's per-handler storage interfaces):
// the composed store (OAuthStore) must then implement it, or the registry does not compile.
// A grant for confidential clients only says so (`confidentialOnly`); the route and the
// validation of an application's grant_types (the domain receives it with the names,
// GRANT_TYPE_OFFERS) enforce it, the grant's module does not repeat it.
import type { SecretHasher } from "../crypto/secret-hasher.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import type { AuthenticatedClient } from "./client-auth.js";
import type { Params } from "./params.js";
import type { TokenStore } from "./token-store.js";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token?: string;
  scope: string;
  installation_id: string;
}

/** The settings grant handlers read (src/main/config.ts holds them all). */
export interface GrantSettings {
  /** Lifetimes in seconds. */
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  /** Seconds during which a rotated refresh token's retry returns the same successor; 0 disables. */
  refreshGracePeriod: number;
  /** Lifetime in seconds of an installation access token (client_credentials). */
  installationTokenLifetime: number;
}

/** What a grant handler may use: storage, configuration, time, a logger. No HTTP. */
export interface GrantContext<S = TokenStore> {
  client: AuthenticatedClient;
  /** Only the parameters the grant type declared, each present once and non-empty. */
  params: Params;
  now: Date;
  log: Logger;
  store: S;
  hasher: SecretHasher;
  config: GrantSettings;
  /** Server keys for derived credentials, the current one first (see successor.ts). */
  secretKey: ServerKeys;
  /** The HTTP request's id and the caller's address, recorded with the events a grant causes. */
  request?: { requestId: string; sourceIp: string };
  /** Where replays and reuse detections are counted (src/shared/metrics.ts). */
  metrics?: Metrics;
}

export interface GrantType<S = TokenStore> {
  /** The grant_type wire value. */
  readonly name: string;
  /** Parameters this grant reads (besides grant_type and client credentials); all others are dropped. */
  readonly parameters: readonly string[];
  /** Of those, the ones whose absence is invalid_request. */
  readonly required: readonly string[];
  /**
   * Only confidential clients may use it: a public application may not list it in its
   * grant_types, and a client that did not authenticate gets unauthorized_client. Unset: any client.
   */
  readonly confidentialOnly?: boolean;
  handle(ctx: GrantContext<S>): Promise<TokenResponse>;
}

/** The grants of one server, over the store `S` that serves them all. */
export class GrantRegistry<S = TokenStore> {
  readonly #grants = new Map<string, GrantType<S>>();

  constructor(grants: Iterable<GrantType<S>>) {
    for (const grant of grants) {
      if (this.#grants.has(grant.name)) throw new Error(`grant type ${grant.name} registered twice`);
      this.#grants.set(grant.name, grant);
    }
  }

  get(name: string): GrantType<S> | undefined {
    return this.#grants.get(name);
  }

  /** Registered grant_type values, e.g. for discovery metadata. */
  names(): string[] {
    return [...this.#grants.keys()];
  }
}
