// The storage the token endpoint needs, and nothing more (fosite's small storage
// interfaces per concern). It is the hot path: every method is one or two indexed
// statements of plain SQL on the driver, because Prisma's per-query overhead (about
// 0.8 ms here, against 0.01 ms for the same indexed read on the driver) would cap
// /oauth/token far below the target. Prisma still owns the schema, the migrations
// and every other read and write.
import type { ClientKeyStore } from "./client-assertion.js";
import type { DeviceCodeStore } from "./device-authorization.js";
import type { InstallationTokenStore } from "./installation-token.js";

export interface ClientRecord {
  id: string;
  clientId: string;
  clientType: string;
  grantTypes: string;
  /** argon2id hashes of the secrets that are active now (unexpired). */
  secretHashes: string[];
  /**
   * Those of them with no SHA-256 stored yet (created before the column existed), by
   * argon2id hash: their ids. Usually empty. A leak report cannot find them until
   * authenticating fills it in (fillSecretLookupHash).
   */
  secretsWithoutLookup: ReadonlyMap<string, string>;
}

export interface CodeRecord {
  id: string;
  applicationId: string;
  installationId: string;
  installationActive: boolean;
  /** Suspended (src/domain/installation-suspension.ts): not active, but not gone either. */
  installationSuspended: boolean;
  account: string;
  scopes: string;
  redirectUri: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  expiresAt: Date;
  consumedAt: Date | null;
  revokedAt: Date | null;
}

export interface TokenRecord extends Omit<NewToken, "codeId" | "parentId"> {
  codeId: string | null;
  parentId: string | null;
  installationActive: boolean;
  installationSuspended: boolean;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

/**
 * How a presented access or refresh token is looked up: by the selector it carries (its
 * row's id, null for a token issued before selectors: then through LegacyTokenHash), the
 * row kept only if the SHA-256 of the whole token equals the stored one (compared in
 * constant time). Built by tokenLookup (find-token.ts).
 */
export interface TokenLookup {
  selector: string | null;
  hash: string;
}

export interface NewToken {
  id: string;
  accessTokenHash: string;
  /** Null for an access token issued alone (an installation access token): the row has no refresh token. */
  refreshTokenHash: string | null;
  applicationId: string;
  installationId: string;
  clientId: string;
  account: string;
  codeId: string | null;
  familyId: string;
  generation: number;
  parentId: string | null;
  scopes: string;
  createdAt: Date;
  accessExpiresAt: Date;
  refreshExpiresAt: Date;
}

/** The one row introspection reads (by the access or refresh token's selector), with its installation's status. */
export type IntrospectionRecord = Pick<
  TokenRecord,
  | "id"
  | "installationActive"
  | "applicationId"
  | "clientId"
  | "installationId"
  | "account"
  | "familyId"
  | "scopes"
  | "createdAt"
  | "accessExpiresAt"
  | "refreshExpiresAt"
  | "rotatedAt"
  | "revokedAt"
>;

/**
 * The event a revocation records in its own transaction (src/domain/events.ts): a
 * reused code or refresh token, or a client revoking its token (RFC 7009).
 */
export interface RevocationEvent {
  type: "token.code_reused" | "token.refresh_reused" | "token.revoked";
  applicationId: string;
  installationId: string;
  /** The client whose request caused it, and that request. */
  clientId: string;
  requestId?: string | undefined;
  sourceIp?: string | undefined;
  /** Ids only, never a token or code; the store adds `revoked`, how many tokens were still live. */
  data: Record<string, unknown>;
}

/**
 * Everything the OAuth endpoints need of storage: the core store and the capabilities
 * declared by the parts that need more (client assertions, installation tokens, device codes).
 * Each store in src/storage implements all of it.
 */
export type OAuthStore = TokenStore & ClientKeyStore & InstallationTokenStore & DeviceCodeStore;

export interface TokenStore {
  findClient(clientId: string, now: Date): Promise<ClientRecord | null>;
  findCodeByHash(codeHash: string): Promise<CodeRecord | null>;
  /**
   * Consumes the code and inserts its tokens in one transaction. The consume is one
   * conditional write (unconsumed, unrevoked, unexpired, installation active, and the
   * code's scopes still `token.scopes`); false when it matched nothing: another request
   * consumed the code first, or it was revoked, the installation suspended or uninstalled,
   * or the application's scopes narrowed meanwhile.
   */
  exchangeCode(codeId: string, now: Date, token: NewToken): Promise<boolean>;
  findTokenByRefresh(refreshToken: TokenLookup): Promise<TokenRecord | null>;
  findSuccessor(parentId: string): Promise<TokenRecord | null>;
  /**
   * Marks the parent's refresh token rotated and inserts its successor, in one
   * transaction, only while the installation is active and the parent's scopes are
   * still `parentScopes` (what the successor was derived from); false when the parent
   * was no longer rotatable (another request rotated it, it was revoked or expired, the
   * installation suspended or uninstalled, or its scopes narrowed meanwhile).
   */
  rotate(parentId: string, now: Date, successor: NewToken, parentScopes: string): Promise<boolean>;
  findByAccess(accessToken: TokenLookup): Promise<IntrospectionRecord | null>;
  findByRefresh(refreshToken: TokenLookup): Promise<IntrospectionRecord | null>;
  /**
   * Revokes one token pair (RFC 7009 for an access token); returns whether it was live.
   * `event`, if given, is recorded in the same transaction when the pair was live.
   */
  revokeToken(tokenId: string, now: Date, reason: string, event?: RevocationEvent): Promise<boolean>;
  /**
   * Revokes every live token of a family; returns how many were live. `event`, if
   * given, is recorded in the same transaction: always for a reuse, for a revocation
   * only when something was live.
   */
  revokeFamily(familyId: string, now: Date, reason: string, event?: RevocationEvent): Promise<number>;
  /**
   * Stores `lookupHash` (the SHA-256 a leak report looks for) of the client secret `secretId`,
   * which has just authenticated, unless it has one already: one conditional write per secret,
   * ever. A secret deleted meanwhile is left alone.
   */
  fillSecretLookupHash(secretId: string, lookupHash: string): Promise<void>;
  /** Resolves once the store's own connection has answered a trivial query (/readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
