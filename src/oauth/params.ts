// Token endpoint parameters: form-urlencoded (RFC 6749) or JSON (what Sentry's apps
// send), and the authorization endpoint's query. A parameter sent twice is an error
// (RFC 6749 §3.2), an empty one counts as absent, values must be strings of text.
import { isWellFormedText } from "../shared/well-formed-text.js";
import { invalidRequest } from "./errors.js";

export type Params = Map<string, string>;

/**
 * The request's parameters: the usable ones, and the names whose value was repeated
 * or not a string. Those are errors only for parameters the endpoint reads (see
 * requireValid); unknown parameters are ignored whatever they hold (RFC 6749 §3.2).
 */
export interface RequestParams {
  values: Params;
  invalid: Map<string, "is repeated" | "must be a string" | typeof NOT_TEXT>;
}

const NOT_TEXT = "is not text (it holds a NUL or an unpaired surrogate)";

export function readParams(body: unknown): RequestParams {
  if (body === undefined || body === null) throw invalidRequest("request body is missing");
  if (typeof body !== "object" || Array.isArray(body)) throw invalidRequest("request body must be a set of parameters");
  const values: Params = new Map();
  const invalid: RequestParams["invalid"] = new Map();
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) invalid.set(name, "is repeated");
    else if (value === null || value === undefined || value === "") continue;
    else if (typeof value !== "string") invalid.set(name, "must be a string");
    else if (!isWellFormedText(value)) invalid.set(name, NOT_TEXT);
    else values.set(name, value);
  }
  return { values, invalid };
}

/** Refuses the request if one of `names` (parameters the endpoint reads) was repeated or not a string. */
export function requireValid(params: RequestParams, names: Iterable<string>): void {
  for (const name of names) {
    const problem = params.invalid.get(name);
    if (problem !== undefined) throw invalidRequest(`parameter ${safeName(name)} ${problem}`);
  }
}

/** Client authentication parameters, read by every endpoint that authenticates clients. */
export const CLIENT_PARAMETERS = ["client_id", "client_secret", "client_assertion_type", "client_assertion"] as const;

/**
 * A client_id the caller claimed, as a refusal's log line names it: at most 100
 * characters of it, and only if it is text (the caller chose it). Never a secret: only
 * ever given the client_id parameter or the id half of HTTP Basic credentials.
 */
export function claimedForLog(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return isWellFormedText(value) ? value.slice(0, 100) : "(not text)";
}

/** Parameter names are echoed in descriptions; keep them short and printable. */
export function safeName(name: string): string {
  return /^[\w.-]{1,40}$/.test(name) ? name : "(invalid name)";
}

/**
 * JSON.parse keeps the last of two equal keys silently; the token endpoint must
 * refuse them. This scans the top level of an object for repeated keys.
 */
export function duplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < text.length && /\s/.test(text[k]!)) k++;
        if (text[k] === ":") {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j + 1;
      continue;
    }
    if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") depth--;
    i++;
  }
  return null;
}
