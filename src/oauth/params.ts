// Token endpoint parameters: form-urlencoded (RFC 6749) or JSON (what Sentry's apps
// send). A parameter sent twice is an error (RFC 6749 §3.2), an empty one counts as
// absent, values must be strings.
import { invalidRequest } from "./errors.js";

export type Params = Map<string, string>;

/**
 * The request's parameters: the usable ones, and the names whose value was repeated
 * or not a string. Those are errors only for parameters the endpoint reads (see
 * requireValid); unknown parameters are ignored whatever they hold (RFC 6749 §3.2).
 */
export interface RequestParams {
  values: Params;
  invalid: Map<string, "is repeated" | "must be a string">;
}

export function readParams(body: unknown): RequestParams {
  if (body === undefined || body === null) throw invalidRequest("request body is missing");
  if (typeof body !== "object" || Array.isArray(body)) throw invalidRequest("request body must be a set of parameters");
  const values: Params = new Map();
  const invalid: RequestParams["invalid"] = new Map();
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (Array.isArray(value)) invalid.set(name, "is repeated");
    else if (value === null || value === undefined || value === "") continue;
    else if (typeof value !== "string") invalid.set(name, "must be a string");
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
export const CLIENT_PARAMETERS = ["client_id", "client_secret"] as const;

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
