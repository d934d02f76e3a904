// grant_type=client_credentials (RFC 6749 §4.4) for installation access tokens: a
// confidential application, authenticated as itself (private_key_jwt preferably, or a
// client secret), gets a short-lived access token for one of its installations
// (`installation_id`), optionally narrowed by `scope`; no refresh token. The token is
// minted by src/oauth/installation-token.ts, which the GitHub-compatible endpoint
// shares; this module is only its RFC 6749 envelope. It needs more of storage than the
// core TokenStore, and says so in its type.
import { formatScopes, isScopeToken, parseScopes } from "../../shared/scopes.js";
import { invalidGrant, invalidScope, unauthorizedClient } from "../errors.js";
import type { GrantType } from "../grant-type.js";
import { type InstallationTokenStore, MintRefused, mintInstallationToken } from "../installation-token.js";
import type { TokenStore } from "../token-store.js";

export const clientCredentials: GrantType<TokenStore & InstallationTokenStore> = {
  name: "client_credentials",
  parameters: ["installation_id", "scope"],
  required: ["installation_id"],
  // An app acts as itself: only one that can prove it (a secret or a key) may.
  confidentialOnly: true,

  async handle(ctx) {
    const scope = ctx.params.get("scope");
    let scopes: string[] | undefined;
    if (scope !== undefined) {
      scopes = parseScopes(scope.trim().replace(/ +/g, " "));
      if (scopes.length === 0 || !scopes.every(isScopeToken)) throw invalidScope("scope is not a list of scope tokens");
    }
    try {
      const minted = await mintInstallationToken(ctx.store, {
        client: ctx.client,
        installationId: ctx.params.get("installation_id")!,
        scopes,
        now: ctx.now,
        lifetime: ctx.config.installationTokenLifetime,
      });
      ctx.log.info({ tokenId: minted.tokenId, installationId: minted.installationId }, "installation access token issued");
      return {
        access_token: minted.token,
        token_type: "Bearer",
        expires_in: ctx.config.installationTokenLifetime,
        scope: formatScopes(minted.scopes),
        installation_id: minted.installationId,
      };
    } catch (error) {
      if (!(error instanceof MintRefused)) throw error;
      if (error.refusal === "scope_widened") throw invalidScope(error.description);
      if (error.refusal === "not_confidential") throw unauthorizedClient(error.description);
      throw invalidGrant(error.description);
    }
  },
};
