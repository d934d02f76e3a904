// The public keys a secret scanner signs its reports with, in GitHub's document format
// {public_keys: [{key_identifier, key (PEM), is_current}]}, and the verification of a
// report: ECDSA P-256 with SHA-256 over the raw body, the signature DER-encoded and
// base64'd (headers Github-Public-Key-Identifier and Github-Public-Key-Signature).
//
// The document is loaded on first use and cached; a report signed with an identifier
// the cache does not know (the scanner rotated its keys) reloads it, but at most once
// per `minRefreshMs` and with a deadline: identifiers are chosen by whoever sends the
// request, so made-up ones must not make us hammer the key server. Concurrent reloads
// share one load. A failed reload keeps the keys already known.
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Clock } from "../shared/time.js";

/** Loads the key document's text within `timeoutMs` (a URL, a file). */
export type KeyDocumentLoader = (timeoutMs: number) => Promise<string>;

export class KeysUnavailable extends Error {
  override name = "KeysUnavailable";
}

const MAX_DOCUMENT_BYTES = 256 * 1024;

/** A loader for an http(s) URL: a deadline on the whole exchange, and a bounded body. */
export function urlLoader(url: string): KeyDocumentLoader {
  return async (timeoutMs) => {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "error", headers: { accept: "application/json" } });
    if (!response.ok) throw new KeysUnavailable(`the key server answered ${response.status}`);
    const length = Number(response.headers.get("content-length") ?? 0);
    if (length > MAX_DOCUMENT_BYTES) throw new KeysUnavailable("the key document is too large");
    const text = await response.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new KeysUnavailable("the key document is too large");
    return text;
  };
}

/** A loader for a file: read again on each load, so replacing the file rotates the keys. */
export function fileLoader(path: string): KeyDocumentLoader {
  return (timeoutMs) => readFile(path, { encoding: "utf8", signal: AbortSignal.timeout(timeoutMs) });
}

/**
 * The P-256 keys of a document, by identifier. Entries that are not P-256 public keys
 * are skipped (a document may list other algorithms); a document that is not the
 * expected shape throws.
 */
export function parseKeyDocument(text: string): Map<string, KeyObject> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new KeysUnavailable("the key document is not JSON");
  }
  const list = (document as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list)) throw new KeysUnavailable("the key document has no public_keys list");
  const keys = new Map<string, KeyObject>();
  for (const entry of list as { key_identifier?: unknown; key?: unknown }[]) {
    if (typeof entry?.key_identifier !== "string" || typeof entry.key !== "string") continue;
    try {
      const key = createPublicKey(entry.key);
      if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") keys.set(entry.key_identifier, key);
    } catch {
      // not a public key PEM: skipped
    }
  }
  return keys;
}

export interface ScannerKeySettings {
  load: KeyDocumentLoader;
  clock: Clock;
  /** Deadline of one load. */
  timeoutMs?: number;
  /** Least time between two loads caused by unknown identifiers. */
  minRefreshMs?: number;
}

export class ScannerKeys {
  #keys: Map<string, KeyObject> | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  readonly #timeoutMs: number;
  readonly #minRefreshMs: number;

  constructor(private readonly settings: ScannerKeySettings) {
    this.#timeoutMs = settings.timeoutMs ?? 5000;
    this.#minRefreshMs = settings.minRefreshMs ?? 60_000;
  }

  /**
   * True when `signature` (base64 DER) is `identifier`'s signature of `body`. False for an
   * unknown identifier or a bad signature; throws KeysUnavailable when no key document
   * could ever be loaded (the request cannot be judged: the scanner should retry).
   */
  async verify(identifier: string, signature: string, body: Buffer): Promise<boolean> {
    const mayLoad = this.#loading !== undefined || this.settings.clock().getTime() - this.#loadedAt >= this.#minRefreshMs;
    if (this.#keys === undefined) {
      if (!mayLoad) throw new KeysUnavailable("the secret scanning keys could not be loaded; retry later");
      try {
        await this.#reload();
      } catch (error) {
        throw error instanceof KeysUnavailable ? error : new KeysUnavailable("the secret scanning keys could not be loaded");
      }
    } else if (!this.#keys.has(identifier) && mayLoad) {
      await this.#reload().catch(() => undefined); // the keys known so far stay
    }
    const key = this.#keys?.get(identifier);
    if (key === undefined) return false;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
    try {
      return verify("sha256", body, { key, dsaEncoding: "der" }, Buffer.from(signature, "base64"));
    } catch {
      return false; // not a DER signature
    }
  }

  #reload(): Promise<void> {
    this.#loading ??= (async () => {
      // Counted from the attempt: a key server that fails is not asked again at once either.
      this.#loadedAt = this.settings.clock().getTime();
      try {
        this.#keys = parseKeyDocument(await this.settings.load(this.#timeoutMs));
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }
}
