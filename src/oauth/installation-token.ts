// Installation access tokens: an application, authenticated as itself (a client secret,
// or better a JWT signed with its private key), mints a short-lived access token for
// one of its installations, with no refresh token to lose (GitHub Apps' model). One
// implementation behind two envelopes: the client_credentials grant
// (src/oauth/grants/client-credentials.ts, RFC 6749 errors) and the GitHub-compatible
// endpoint (src/http/github/, GitHub's errors).
import { generateCredential } from "../crypto/tokens.js";
import { formatScopes, parseScopes } from "../shared/scopes.js";
import { SCOPE_RACE_ATTEMPTS } from "./errors.js";
import { accessTokenRow, newTokenId } from "./issue-token-pair.js";
import type { NewToken } from "./token-store.js";

export interface InstallationRecord {
  id: string;
  applicationId: string;
  account: string;
  scopes: string;
  active: boolean;
  suspended: boolean;
}

/** The storage this grant declares (besides the client lookup every grant has). */
export interface InstallationTokenStore {
  findInstallation(installationId: string): Promise<InstallationRecord | null>;
  /**
   * Inserts an access token without a refresh token, only while its installation is
   * active and its scopes are still `installationScopes` (what the token's were checked
   * against): one statement, so an uninstall, a suspension or a narrowing racing it either
   * comes after it (and reaches the token) or prevents it; false when it prevented it.
   */
  issueAccessToken(token: NewToken, installationScopes: string): Promise<boolean>;
}

/** Why a mint was refused; each envelope maps it to its own error. */
export type MintRefusal = "not_confidential" | "no_installation" | "suspended" | "scope_widened";

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

const NOT_ACTIVE = "installation_id is not an active installation of this client";

/** The installation, if the client may mint for it now; refused otherwise. */
function mintable(installation: InstallationRecord | null, clientId: string): InstallationRecord {
  // Another application's installation is answered exactly like an unknown one.
  if (!installation || installation.applicationId !== clientId) throw new MintRefused("no_installation", NOT_ACTIVE);
  if (installation.suspended) throw new MintRefused("suspended", "the installation is suspended");
  if (!installation.active) throw new MintRefused("no_installation", NOT_ACTIVE);
  return installation;
}

export async function mintInstallationToken(store: InstallationTokenStore, request: MintRequest): Promise<MintedToken> {
  const { client, now } = request;
  if (client.clientType !== "confidential") throw new MintRefused("not_confidential", "installation tokens are for confidential clients");
  let installation = mintable(await store.findInstallation(request.installationId), client.id);
  for (let attempt = 1; ; attempt++) {
    const granted = parseScopes(installation.scopes);
    const scopes = request.scopes === undefined ? granted : [...new Set(request.scopes)];
    if (scopes.some((scope) => !granted.includes(scope))) {
      throw new MintRefused("scope_widened", "the requested scope exceeds the installation's scopes");
    }
    const id = newTokenId(now);
    const token = generateCredential("installationToken", id);
    const row = accessTokenRow(now, id, token, request.lifetime, {
      applicationId: client.id,
      installationId: installation.id,
      clientId: client.clientId,
      account: installation.account,
      scopes: formatScopes(scopes),
    });
    if (await store.issueAccessToken(row, installation.scopes)) {
      return { token, tokenId: row.id, installationId: installation.id, account: installation.account, scopes, expiresAt: row.accessExpiresAt };
    }
    // The installation changed between the read and the insert: uninstalled, suspended,
    // or its scopes changed (then the request is checked again against the new ones).
    installation = mintable(await store.findInstallation(request.installationId), client.id);
    if (attempt >= SCOPE_RACE_ATTEMPTS) throw new MintRefused("no_installation", NOT_ACTIVE);
  }
}
