// Installation access tokens: an application, authenticated as itself (a client secret,
// or better a JWT signed with its private key), mints a short-lived access token for
// one of its installations, with no refresh token to lose (GitHub Apps' model). One
// implementation behind two envelopes: the client_credentials grant
// (src/oauth/grants/client-credentials.ts, RFC 6749 errors) and the GitHub-compatible
// endpoint (src/http/github/, GitHub's errors).
import { generateCredential } from "../crypto/tokens.js";
import { formatScopes, parseScopes } from "../shared/scopes.js";
import { accessTokenRow } from "./issue-token-pair.js";
import type { NewToken } from "./token-store.js";

export interface InstallationRecord {
  id: string;
  applicationId: string;
  account: string;
  scopes: string;
  active: boolean;
}

/** The storage this grant declares (besides the client lookup every grant has). */
export interface InstallationTokenStore {
  findInstallation(installationId: string): Promise<InstallationRecord | null>;
  /**
   * Inserts an access token without a refresh token, only while its installation is
   * active (one statement: an uninstall racing it either revokes it or prevents it);
   * false when the installation was no longer active.
   */
  issueAccessToken(token: NewToken): Promise<boolean>;
}

/** Why a mint was refused; each envelope maps it to its own error. */
export type MintRefusal = "not_confidential" | "no_installation" | "scope_widened";

export class MintRefused extends Error {
  override name = "MintRefused";
  constructor(
    readonly refusal: MintRefusal,
    readonly description: string,
  ) {
    super(description);
  }
}

export interface MintRequest {
  client: { id: string; clientId: string; clientType: string };
  installationId: string;
  /** A subset of the installation's scopes; undefined: all of them. */
  scopes?: readonly string[] | undefined;
  now: Date;
  /** Seconds (APPGRANT_INSTALLATION_TOKEN_LIFETIME). */
  lifetime: number;
}

export interface MintedToken {
  token: string;
  tokenId: string;
  installationId: string;
  account: string;
  scopes: string[];
  expiresAt: Date;
}

export async function mintInstallationToken(store: InstallationTokenStore, request: MintRequest): Promise<MintedToken> {
  const { client, now } = request;
  if (client.clientType !== "confidential") throw new MintRefused("not_confidential", "installation tokens are for confidential clients");
  const installation = await store.findInstallation(request.installationId);
  // Another application's installation is answered exactly like an unknown one.
  if (!installation || installation.applicationId !== client.id || !installation.active) {
    throw new MintRefused("no_installation", "installation_id is not an active installation of this client");
  }
  const granted = parseScopes(installation.scopes);
  const scopes = request.scopes === undefined ? granted : [...new Set(request.scopes)];
  if (scopes.some((scope) => !granted.includes(scope))) {
    throw new MintRefused("scope_widened", "the requested scope exceeds the installation's scopes");
  }
  const token = generateCredential("installationToken");
  const row = accessTokenRow(now, token, request.lifetime, {
    applicationId: client.id,
    installationId: installation.id,
    clientId: client.clientId,
    account: installation.account,
    scopes: formatScopes(scopes),
  });
  if (!(await store.issueAccessToken(row))) {
    throw new MintRefused("no_installation", "installation_id is not an active installation of this client");
  }
  return { token, tokenId: row.id, installationId: installation.id, account: installation.account, scopes, expiresAt: row.accessExpiresAt };
}
