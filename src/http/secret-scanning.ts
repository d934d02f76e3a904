// POST /secret-scanning/github: GitHub's secret scanning partner program reports the
// appgrant credentials it finds in public places. The body is a JSON array of
// {token, type, url, source}, signed by GitHub (src/crypto/scanner-keys.ts); the answer
// is GitHub's feedback format, one {token_hash, token_type, label} per entry. Every
// credential found is handled at once (src/domain/leaked-credentials.ts).
//
// Off (404, as an unknown path) unless APPGRANT_SECRET_SCANNING_KEYS_URL or _FILE is
// set. The signature is checked on the raw bytes before anything is parsed: an
// unsigned, wrongly signed or unknown-key request is 401 and changes nothing.
import type { FastifyError, FastifyInstance } from "fastify";
import { KeysUnavailable, type ScannerKeys } from "../crypto/scanner-keys.js";
import { sha256 } from "../crypto/tokens.js";
import { withActor } from "../domain/context.js";
import { handleLeakedCredentials, type LeakReport, MAX_LEAK_REPORTS } from "../domain/leaked-credentials.js";
import { adminError, adminErrorHandler } from "./admin/errors.js";

export interface SecretScanningOptions {
  /** Undefined: the endpoint is off. */
  keys: ScannerKeys | undefined;
}

/** A thousand reports with long URLs fit; the default limit (64 KiB) would not. */
const BODY_LIMIT = 4 * 1024 * 1024;
/** Longer than any credential: a longer `token` is not one, and is not worth hashing. */
const MAX_TOKEN_LENGTH = 1024;

const entrySchema = {
  type: "object",
  properties: {
    token: { type: "string", description: "The credential found." },
    type: { type: "string", description: "The scanner's name for the pattern that matched (echoed back as `token_type`)." },
    url: { type: "string", description: "Where it was found." },
    source: { type: "string", description: "What kind of place that is (`content`, `commit`, `issue_comment`, …)." },
  },
  required: ["token"],
} as const;

const feedbackSchema = {
  type: "array",
  items: {
    type: "object",
    properties: {
      token_hash: { type: "string", description: "SHA-256 (hex) of the reported token." },
      token_type: { type: "string", description: "The `type` the report gave." },
      label: { type: "string", enum: ["true_positive", "false_positive"], description: "Whether the token is an appgrant credential." },
    },
    required: ["token_hash", "token_type", "label"],
  },
} as const;

const errorSchema = {
  type: "object",
  properties: {
    statusCode: { type: "integer" },
    code: { type: "string" },
    error: { type: "string" },
    message: { type: "string" },
    request_id: { type: "string" },
  },
  required: ["statusCode", "code", "error", "message"],
} as const;
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, { ...errorSchema, description: "The server's general error shape." }]));

class Refused extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The report's entries, or a 400 naming what is wrong (never echoing a value). */
function readEntries(raw: Buffer): { reports: LeakReport[]; types: string[] } {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new Refused(400, "invalid_request", "the body is not valid JSON");
  }
  if (!Array.isArray(body)) throw new Refused(400, "invalid_request", "the body must be a JSON array of {token, type, url, source}");
  if (body.length > MAX_LEAK_REPORTS) throw new Refused(400, "invalid_request", `at most ${MAX_LEAK_REPORTS} entries per request`);
  const reports: LeakReport[] = [];
  const types: string[] = [];
  for (const [index, entry] of body.entries()) {
    const { token, type, url, source } = (entry ?? {}) as Record<string, unknown>;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry) || typeof token !== "string" || token === "") {
      throw new Refused(400, "invalid_request", `entry ${index}: token must be a non-empty string`);
    }
    for (const [name, value] of Object.entries({ type, url, source })) {
      if (value !== undefined && value !== null && typeof value !== "string")
        throw new Refused(400, "invalid_request", `entry ${index}: ${name} must be a string`);
    }
    if (token.length > MAX_TOKEN_LENGTH)
      throw new Refused(400, "invalid_request", `entry ${index}: token is longer than ${MAX_TOKEN_LENGTH} characters`);
    reports.push({ credential: token, url: url as string | undefined, source: source as string | undefined });
    types.push(typeof type === "string" ? type : "");
  }
  return { reports, types };
}

export async function secretScanning(app: FastifyInstance, { keys }: SecretScanningOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  // The signature covers the bytes as sent: they are kept as they are, and parsed only once verified.
  app.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
  // The schema documents the body; it is read (after the signature) by readEntries.
  app.setValidatorCompiler(() => () => true);
  app.setErrorHandler((error: FastifyError | Refused, request, reply) => {
    if (error instanceof Refused) {
      request.log.info({ status: error.statusCode, reason: error.message }, "secret scanning report refused");
      return adminError(reply, error.statusCode, error.code, error.message);
    }
    if (error instanceof KeysUnavailable) {
      request.log.warn({ reason: error.message }, "secret scanning report not judged: no key document");
      reply.header("Retry-After", "60");
      return adminError(reply, 503, "unavailable", "the scanner's public keys could not be loaded; retry later");
    }
    return adminErrorHandler(error as FastifyError, request, reply);
  });

  app.post(
    "/github",
    {
      bodyLimit: BODY_LIMIT,
      onRequest: async (request, reply) => {
        if (keys === undefined) return adminError(reply, 404, "not_found", `no route ${request.method} ${request.url.split("?")[0]!.slice(0, 200)}`);
      },
      schema: {
        tags: ["secret-scanning"],
        security: [{ scannerSignature: [] }],
        operationId: "secretScanningGitHub",
        summary: "Receive leaked credentials from GitHub's secret scanning partner program.",
        description:
          "A JSON array of `{token, type, url, source}` (at most 1,000), signed by GitHub: `Github-Public-Key-Identifier` " +
          "names a key of the configured public-keys document (APPGRANT_SECRET_SCANNING_KEYS_URL or _FILE) and " +
          "`Github-Public-Key-Signature` is the base64 DER ECDSA P-256 SHA-256 signature of the raw body. An unsigned, " +
          "wrongly signed or unknown-key request is 401 and changes nothing. Every appgrant credential found is handled at " +
          "once: tokens and codes revoked (a refresh token with its family), client and webhook secrets marked compromised " +
          "and, by APPGRANT_LEAKED_SECRET_ACTION, kept or not (a client secret deleted; a webhook secret replaced, the " +
          "webhooks paused until an operator rotates it and resumes them); each records `credential.leaked`. Off (404) unless a key " +
          "source is configured.",
        headers: {
          type: "object",
          properties: {
            "github-public-key-identifier": { type: "string", description: "The key that signed the body." },
            "github-public-key-signature": { type: "string", description: "Base64 DER ECDSA signature of the raw body." },
          },
          required: ["github-public-key-identifier", "github-public-key-signature"],
        },
        body: { type: "array", maxItems: MAX_LEAK_REPORTS, items: entrySchema },
        response: {
          200: { ...feedbackSchema, description: "One label per entry, in order (GitHub's feedback format)." },
          ...errors(400, 401, 404, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const identifier = request.headers["github-public-key-identifier"];
      const signature = request.headers["github-public-key-signature"];
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (typeof identifier !== "string" || typeof signature !== "string" || identifier === "" || signature === "") {
        throw new Refused(401, "unauthorized", "the report is not signed (Github-Public-Key-Identifier, Github-Public-Key-Signature)");
      }
      if (!(await keys!.verify(identifier, signature, raw))) {
        throw new Refused(401, "unauthorized", "the signature does not verify with a known key");
      }
      const { reports, types } = readEntries(raw);
      const ctx = withActor(app.domain, { type: "system", requestId: request.id, sourceIp: request.ip });
      const outcomes = await handleLeakedCredentials(ctx, reports, { reporter: "secret_scanning", secretAction: app.config.leakedSecretAction });
      const found = outcomes.filter((outcome) => outcome.found).length;
      request.log.info({ reported: reports.length, found }, "secret scanning report handled");
      return reply.code(200).send(
        reports.map((report, index) => ({
          token_hash: sha256(report.credential),
          token_type: types[index]!,
          label: outcomes[index]!.found ? "true_positive" : "false_positive",
        })),
      );
    },
  );
}
