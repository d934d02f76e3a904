// Path segments that are a credential, redacted wherever a request's path leaves the
// process: log lines (src/main/logging.ts) and span attributes (src/http/tracing.ts).
// Today one: the user code a device authorization is looked up by, live for its
// lifetime (/admin/v1/device-authorizations/{user_code}…). Segments are compared
// decoded, since the router matches /admin/v1/device%2Dauthorizations/… as well.

export const REDACTED = "[Redacted]";

/** The segments whose next segment is a credential. */
const BEFORE_SECRET = new Set(["device-authorizations"]);

/** Cheap pre-check: a path that cannot hold such a segment is returned as is, unsplit. */
const MAY_HOLD_SECRET = /authorizations|%/i;

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    return segment.toLowerCase();
  }
}

/** `path` (without its query) with each credential segment replaced by [Redacted]. */
export function redactPath(path: string): string {
  if (!MAY_HOLD_SECRET.test(path)) return path;
  const segments = path.split("/");
  let redacted = false;
  for (let i = 0; i < segments.length - 1; i++) {
    if (BEFORE_SECRET.has(decoded(segments[i]!))) {
      segments[i + 1] = REDACTED;
      redacted = true;
    }
  }
  return redacted ? segments.join("/") : path;
}
