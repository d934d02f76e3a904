// Input strings must be text the databases can store: PostgreSQL refuses a NUL byte
// in a text value, and a lone UTF-16 surrogate (JSON's "\ud800") has no UTF-8
// encoding, so the drivers fail on it. Either reached a query as a 500; both are the
// client's mistake, refused where each context reads its input (OAuth parameters,
// HTTP Basic credentials, the admin API's body, query and path parameters).

const hasWellFormed = (value: string) => (value as unknown as { isWellFormed(): boolean }).isWellFormed();

/** No NUL, no lone surrogate. */
export function isWellFormedText(value: string): boolean {
  return hasWellFormed(value) && !value.includes("\u0000");
}

/**
 * Where the first string of a parsed body, query or path parameters (keys included)
 * that is not well-formed text is, as `where/path/to/it` (the schema errors' notation);
 * null when all of it is text. Iterative: a body may nest deeper than the call stack.
 */
export function malformedTextAt(value: unknown, where: string): string | null {
  const pending: [unknown, string][] = [[value, where]];
  while (pending.length > 0) {
    const [item, path] = pending.pop()!;
    if (typeof item === "string") {
      if (!isWellFormedText(item)) return path.slice(0, 200);
    } else if (typeof item === "object" && item !== null) {
      const entries = Array.isArray(item) ? item.map((element, index) => [String(index), element] as const) : Object.entries(item);
      // A bad key is reported at its parent: the path must not carry the bad text.
      if (entries.some(([key]) => !isWellFormedText(key))) return path.slice(0, 200);
      // Reversed onto the stack, so the first bad string in document order is the one reported.
      for (let i = entries.length - 1; i >= 0; i--) pending.push([entries[i]![1], `${path}/${entries[i]![0]}`]);
    }
  }
  return null;
}
