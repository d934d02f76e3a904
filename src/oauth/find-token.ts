// Revocation and introspection take a token without saying reliably what it is.
import { type CredentialKind, credentialSelector, isWellFormed, sha256 } from "../crypto/tokens.js";
import { invalidRequest } from "./errors.js";
import { CLIENT_PARAMETERS, type Params, readParams, requireValid } from "./params.js";
import type { IntrospectionRecord, TokenLookup, TokenStore } from "./token-store.js";

/** How the store finds a well-formed token of `kind`: its selector and its SHA-256. */
export function tokenLookup(kind: CredentialKind, token: string): TokenLookup {
  return { selector: credentialSelector(kind, token), hash: sha256(token) };
}

/** The parameters of a revocation or introspection request (RFC 7009 §2.1, RFC 7662 §2.1). */
export function tokenRequestParams(body: unknown): { params: Params; token: string } {
  const raw = readParams(body);
  requireValid(raw, ["token", "token_type_hint", ...CLIENT_PARAMETERS]);
  const token = raw.values.get("token");
  if (token === undefined) throw invalidRequest("token is required");
  return { params: raw.values, token };
}

/** Finds a token by value, trying the hinted kind first (the hint is only a hint). */
export async function findToken(
  store: TokenStore,
  token: string,
  hint: string | undefined,
): Promise<{ kind: "access_token" | "refresh_token"; record: IntrospectionRecord } | null> {
  const order = hint === "refresh_token" ? (["refresh_token", "access_token"] as const) : (["access_token", "refresh_token"] as const);
  for (const kind of order) {
    // Installation access tokens (agi_) are access tokens too, in the same column.
    if (kind === "access_token") {
      const shape = isWellFormed("accessToken", token) ? "accessToken" : isWellFormed("installationToken", token) ? "installationToken" : null;
      const record = shape === null ? null : await store.findByAccess(tokenLookup(shape, token));
      if (record) return { kind, record };
    }
    if (kind === "refresh_token" && isWellFormed("refreshToken", token)) {
      const record = await store.findByRefresh(tokenLookup("refreshToken", token));
      if (record) return { kind, record };
    }
  }
  return null;
}
