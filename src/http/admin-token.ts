// The admin token as a Bearer credential: the admin API requires it, and resource
// servers present it to /oauth/introspect (where it also exempts them from the rate
// limits). Compared in constant time, once per request: the rate-limit hooks and the
// route ask the same question of the same request.
import type { IncomingHttpHeaders } from "node:http";
import { safeEqualTo } from "../crypto/tokens.js";

const BEARER = /^Bearer +(\S+) *$/i;

/** The token of an `Authorization: Bearer …` header, if that is what it is. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  return BEARER.exec(headers.authorization ?? "")?.[1];
}

const answers = new WeakMap<IncomingHttpHeaders, boolean>();

/** The comparison with the configured admin token, its digest computed once (one token per process, in practice). */
let comparison: { adminToken: string; equals: (presented: string) => boolean } | undefined;
function isAdminToken(presented: string, adminToken: string): boolean {
  if (comparison?.adminToken !== adminToken) comparison = { adminToken, equals: safeEqualTo(adminToken) };
  return comparison.equals(presented);
}

/** True when the request carries `Authorization: Bearer <adminToken>`. */
export function presentsAdminToken(headers: IncomingHttpHeaders, adminToken: string | undefined): boolean {
  let answer = answers.get(headers);
  if (answer === undefined) {
    const token = bearerToken(headers);
    answer = token !== undefined && adminToken !== undefined && isAdminToken(token, adminToken);
    answers.set(headers, answer);
  }
  return answer;
}
