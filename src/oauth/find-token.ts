// Revocation and introspection take a token without saying reliably what it is.
import { isWellFormed, sha256 } from "../crypto/tokens.js";
import type { IntrospectionRecord, TokenStore } from "./token-store.js";

/** Finds a token by value, trying the hinted kind first (the hint is only a hint). */
export async function findToken(
  store: TokenStore,
  token: string,
  hint: string | undefined,
): Promise<{ kind: "access_token" | "refresh_token"; record: IntrospectionRecord } | null> {
  const order = hint === "refresh_token" ? (["refresh_token", "access_token"] as const) : (["access_token", "refresh_token"] as const);
  for (const kind of order) {
    if (kind === "access_token" && isWellFormed("accessToken", token)) {
      const record = await store.findByAccessHash(sha256(token));
      if (record) return { kind, record };
    }
    if (kind === "refresh_token" && isWellFormed("refreshToken", token)) {
      const record = await store.findByRefreshHash(sha256(token));
      if (record) return { kind, record };
    }
  }
  return null;
}
