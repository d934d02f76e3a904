// The server keys (APPGRANT_SECRET_KEY, APPGRANT_SECRET_KEY_FILE or the SQLite key
// file), newest first, as Hydra's `secrets.system`: the first encrypts and derives,
// every one decrypts and verifies. Rotating is putting a new key in front; the old
// one stays until nothing sealed or derived under it is still needed (README, "Key
// rotation"), then goes.

/** The smallest key accepted: 32 characters, e.g. `openssl rand -hex 32` gives 64. */
export const MIN_KEY_LENGTH = 32;

export class ServerKeys {
  readonly all: readonly string[];

  constructor(keys: readonly string[]) {
    const unique = [...new Set(keys)];
    if (unique.length === 0) throw new Error("at least one server key is required");
    this.all = unique;
  }

  /** The key that encrypts and derives. */
  get current(): string {
    return this.all[0]!;
  }

  /** Never the keys themselves in a log line, an error or an inspection. */
  toJSON(): string {
    return `[${this.all.length} server key(s)]`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toJSON();
  }
}

/**
 * Keys from a variable or a file: separated by commas, newlines or other whitespace,
 * newest first; lines starting with `#` are comments. Keys are opaque strings without
 * whitespace or commas (hex or base64 are fine).
 */
export function parseKeyList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .split(/[\s,]+/)
    .filter((key) => key !== "");
}

/** Why a key list is unusable, or undefined; never quotes a key. */
export function keyListProblem(keys: readonly string[]): string | undefined {
  if (keys.length === 0) return "holds no key";
  const short = keys.findIndex((key) => key.length < MIN_KEY_LENGTH);
  if (short !== -1) {
    return `key ${short + 1} of ${keys.length} is shorter than ${MIN_KEY_LENGTH} characters (try: openssl rand -hex 32)`;
  }
  return undefined;
}
