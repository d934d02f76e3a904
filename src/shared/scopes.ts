// Scopes travel as one space-separated string (RFC 6749 §3.3) on the wire and in the
// database; so do an application's grant types and redirect URIs in the database.

/** scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

/** A space-separated list as stored (grant types, redirect URIs): its items, none for "". */
export function parseList(value: string): string[] {
  return value === "" ? [] : value.split(" ");
}

export const parseScopes: (value: string) => string[] = parseList;

export function formatScopes(scopes: Iterable<string>): string {
  return [...new Set(scopes)].join(" ");
}

/** The scopes of `requested` that `allowed` does not contain. */
export function scopesOutside(requested: Iterable<string>, allowed: Iterable<string>): string[] {
  const set = new Set(allowed);
  return [...new Set(requested)].filter((scope) => !set.has(scope));
}

/**
 * The scopes a client asks for with its `scope` parameter (default: all of `allowed`),
 * or null when it is not a list of scope tokens within `allowed` (invalid_scope).
 */
export function requestedScopes(scope: string | undefined, allowed: readonly string[]): string[] | null {
  const scopes = scope === undefined ? [...allowed] : [...new Set(scope.trim().split(/ +/))];
  if (scopes.length === 0 || !scopes.every(isScopeToken) || scopesOutside(scopes, allowed).length > 0) return null;
  return scopes;
}
