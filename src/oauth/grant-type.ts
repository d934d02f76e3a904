// The grant-type contract. The token route authenticates the client, looks the grant
// type up by its wire name, hands it only the parameters it declares, and serialises
// what it returns or throws. Adding a grant type (client_credentials, device code,
// JWT bearer) means writing one module that implements GrantType and adding it to
// the list given to the registry — the route does not change.
import type { SecretHasher } from "../crypto/secret-hasher.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import type { AuthenticatedClient } from "./client-auth.js";
import type { Params } from "./params.js";
import type { TokenStore } from "./token-store.js";
import type { Logger } from "../shared/logger.js";

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
}

/** What a grant handler may use: storage, configuration, time, a logger. No HTTP. */
export interface GrantContext {
  client: AuthenticatedClient;
  /** Only the parameters the grant type declared, each present once and non-empty. */
  params: Params;
  now: Date;
  log: Logger;
  store: TokenStore;
  hasher: SecretHasher;
  config: GrantSettings;
  /** Server keys for derived credentials, the current one first (see successor.ts). */
  secretKey: ServerKeys;
  /** The HTTP request's id and the caller's address, recorded with the events a grant causes. */
  request?: { requestId: string; sourceIp: string };
}

export interface GrantType {
  /** The grant_type wire value. */
  readonly name: string;
  /** Parameters this grant reads (besides grant_type and client credentials); all others are dropped. */
  readonly parameters: readonly string[];
  /** Of those, the ones whose absence is invalid_request. */
  readonly required: readonly string[];
  handle(ctx: GrantContext): Promise<TokenResponse>;
}

export class GrantRegistry {
  readonly #grants = new Map<string, GrantType>();

  constructor(grants: Iterable<GrantType>) {
    for (const grant of grants) {
      if (this.#grants.has(grant.name)) throw new Error(`grant type ${grant.name} registered twice`);
      this.#grants.set(grant.name, grant);
    }
  }

  get(name: string): GrantType | undefined {
    return this.#grants.get(name);
  }

  /** Registered grant_type values, e.g. for discovery metadata. */
  names(): string[] {
    return [...this.#grants.keys()];
  }
}
