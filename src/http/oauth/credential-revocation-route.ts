// POST /oauth/credentials/revoke: whoever holds a leaked appgrant credential may kill it
// (as GitHub's credential revocation API allows), without authenticating. The effect is
// the secret scanning report's (src/domain/leaked-credentials.ts); the answer is 202
// whatever was found, so it cannot be used to test which values are live. Limited per
// IP address (APPGRANT_CREDENTIAL_REVOKE_LIMIT per APPGRANT_CREDENTIAL_REVOKE_LIMIT_WINDOW),
// counted before the body is read, on the counter the other OAuth limits share (Redis
// with REDIS_URL: one limit across processes).
import type { FastifyInstance } from "fastify";
import { withActor } from "../../domain/context.js";
import { handleLeakedCredentials, MAX_LEAK_REPORTS } from "../../domain/leaked-credentials.js";
import { invalidRequest } from "../../oauth/errors.js";
import type { Counter } from "../../shared/counter.js";
import { isWellFormedText } from "../../shared/well-formed-text.js";
import { limitAddress, tooMany } from "./rate-limit.js";
import { invalidRequestResponse, noStore, noStoreHeaders, oauthErrors } from "./responses.js";

export interface CredentialRevokeLimit {
  /** Requests per IP address and window; 0 disables the limit. */
  perIp: number;
  windowSeconds: number;
  counter: Counter;
}

/** A thousand of the longest credentials, in JSON, with room to spare. */
const BODY_LIMIT = 256 * 1024;
const MAX_CREDENTIAL_LENGTH = 200;

function readCredentials(body: unknown): string[] {
  const credentials = (body as { credentials?: unknown } | null | undefined)?.credentials;
  if (typeof body !== "object" || body === null || Array.isArray(body) || !Array.isArray(credentials)) {
    throw invalidRequest('the body must be JSON: {"credentials": ["…", …]}');
  }
  if (credentials.length === 0 || credentials.length > MAX_LEAK_REPORTS)
    throw invalidRequest(`credentials must list 1 to ${MAX_LEAK_REPORTS} values`);
  for (const [index, value] of credentials.entries()) {
    if (typeof value !== "string" || value === "" || value.length > MAX_CREDENTIAL_LENGTH || !isWellFormedText(value)) {
      throw invalidRequest(`credentials[${index}] must be a non-empty string of text, at most ${MAX_CREDENTIAL_LENGTH} characters`);
    }
  }
  return credentials as string[];
}

export function credentialRevocationRoute(app: FastifyInstance, limit: CredentialRevokeLimit): void {
  const errors = oauthErrors(invalidRequestResponse);
  app.post(
    "/credentials/revoke",
    {
      bodyLimit: BODY_LIMIT,
      onRequest: async (request) => {
        if (limit.perIp <= 0) return;
        const count = await limit.counter.hit(`credential-revoke:${limitAddress(request.ip)}`, limit.windowSeconds * 1000);
        if (count.count > limit.perIp) throw tooMany(count, "credential_revocation_per_ip", "credential revocation limit per IP address");
      },
      schema: {
        tags: ["oauth"],
        operationId: "revokeCredentials",
        security: [],
        summary: "Revoke leaked appgrant credentials (no authentication).",
        description:
          "Whoever holds an appgrant credential may revoke it: access, installation and refresh tokens (a refresh " +
          "token with its whole family) and authorization codes are revoked at once; a client secret or webhook secret " +
          "is marked compromised and, by APPGRANT_LEAKED_SECRET_ACTION, kept (`notify`, the default) or not (`revoke`: " +
          "a client secret is deleted; a webhook secret is replaced by one nobody is shown and the application's " +
          "webhooks are paused until an operator rotates it and resumes them). Each credential changed records " +
          "`credential.leaked` and its webhook. At most 1,000 values, as " +
          'JSON `{"credentials": [...]}`. The answer is 202 whether or not any value was valid, and requests are limited ' +
          "per IP address (APPGRANT_CREDENTIAL_REVOKE_LIMIT per APPGRANT_CREDENTIAL_REVOKE_LIMIT_WINDOW seconds, default " +
          "60 per hour).",
        body: {
          type: "object",
          properties: {
            credentials: {
              type: "array",
              minItems: 1,
              maxItems: MAX_LEAK_REPORTS,
              items: { type: "string", maxLength: MAX_CREDENTIAL_LENGTH },
              description: "The credentials to revoke.",
            },
          },
          required: ["credentials"],
        },
        response: {
          202: { type: "null", description: "Empty body, whatever the values were.", headers: noStoreHeaders },
          400: errors[400],
          429: errors[429],
          500: errors[500],
          503: errors[503],
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const credentials = readCredentials(request.body);
      const ctx = withActor(app.domain, { type: "system", requestId: request.id, sourceIp: request.ip });
      const outcomes = await handleLeakedCredentials(
        ctx,
        credentials.map((credential) => ({ credential })),
        { reporter: "public_revocation", secretAction: app.config.leakedSecretAction },
      );
      request.log.info(
        { reported: credentials.length, found: outcomes.filter((outcome) => outcome.found).length },
        "credential revocation request handled",
      );
      return reply.code(202).send();
    },
  );
}
