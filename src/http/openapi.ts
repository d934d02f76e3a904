// openapi.yaml is generated from the route schemas by @fastify/swagger: the schemas that
// validate requests and serialise answers also carry the summaries, descriptions and
// examples, so the document cannot drift from the code (`npm run openapi` writes it;
// test/http/openapi.test.ts fails while the committed copy differs). Nothing here is
// secret or depends on the configuration: the document is the same for every server.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

/**
 * Text written wrapped, as paragraphs: the lines of a paragraph joined, so that the
 * generated YAML and the rendered Markdown show paragraphs, not the source's line breaks.
 */
export function prose(text: string): string {
  return text
    .trim()
    .split(/\n{2,}/)
    .map((paragraph) => paragraph.replace(/\s*\n\s*/g, " "))
    .join("\n\n");
}

const description = prose(`Third-party *applications* (OAuth clients) are *installed* into a platform's *accounts*.
Each installation receives a single-use authorization code, which the application exchanges
at \`POST /oauth/token\` (RFC 6749) for an access token and a rotating refresh token.

The admin API (\`/admin/v1\`) is for the platform's backend, authenticated with
\`Authorization: Bearer <APPGRANT_ADMIN_TOKEN>\`. It takes JSON bodies only (any other content
type is 415) and marks every answer \`Cache-Control: no-store\`. Its errors share one shape,
\`{statusCode, code, error, message}\`, where \`error\` is the reason phrase of \`statusCode\`; so do
the errors of every path outside \`/oauth/\` (unknown paths, health, discovery), including the
ones raised before any route is chosen (a path that is not percent-encoded UTF-8: 400, a path
parameter over 100 characters: 414, headers over 16 KiB: 431). The OAuth endpoints answer
errors in the RFC 6749 §5.2 shape, \`{error, error_description}\`; \`/oauth/authorize\`, which a
browser visits, with an HTML page or a redirect.

Every string a request carries must be text: a NUL character or an unpaired UTF-16 surrogate
(e.g. the JSON escape \`\\ud800\`) anywhere in a parameter, query or body is refused with 400
(\`invalid_request\`) and changes nothing.

Secrets (client secrets, codes, tokens) appear in exactly one response: the one that issues
them. The server stores only their hashes.
`);

const document = {
  openapi: "3.1.0",
  info: {
    title: "appgrant",
    version: "0.1.0",
    summary: "Standalone OAuth 2.0 authorization server for app platforms.",
    description,
    license: { name: "MIT", identifier: "MIT" },
  },
  servers: [{ url: "http://127.0.0.1:3000", description: "Local server (`npm start`)" }],
  tags: [
    { name: "health", description: "Liveness and readiness probes (no authentication)." },
    { name: "discovery", description: "Authorization server metadata (RFC 8414)." },
    { name: "oauth", description: "The OAuth endpoints called by applications, browsers and resource servers." },
    { name: "applications", description: "OAuth clients of the platform and their client secrets." },
    { name: "installations", description: "Applications installed into accounts, and their authorization codes." },
    {
      name: "authorization-requests",
      description:
        "The consent side of the headless `/oauth/authorize` flow: the platform's consent page reads a pending " +
        "request, then accepts or rejects it.",
    },
    {
      name: "device-authorizations",
      description:
        "The verification page of the device flow (RFC 8628): the platform reads a device authorization by the user " +
        "code the person typed, then accepts or rejects it.",
    },
    { name: "events", description: "The audit log: every change worth auditing, who made it, from where." },
    {
      name: "github",
      description:
        "GitHub-compatible installation access tokens, for GitHub App tooling: an app JWT signed with the application's " +
        "private key, GitHub's paths, status codes and `{message}` errors.",
    },
    { name: "deliveries", description: "Webhook deliveries (the outbox): their attempts, and redelivery." },
    {
      name: "secret-scanning",
      description: "Leaked credentials reported by a secret scanner's partner program (signed) or by anyone holding one.",
    },
  ],
  components: {
    securitySchemes: {
      adminToken: {
        type: "http",
        scheme: "bearer",
        description:
          "`Authorization: Bearer <APPGRANT_ADMIN_TOKEN>`, compared in constant time. While the variable is unset " +
          "every admin route answers 503.",
      },
      clientSecretBasic: {
        type: "http",
        scheme: "basic",
        description:
          "`client_secret_basic` (RFC 6749 §2.3.1): HTTP Basic with the form-urlencoded client_id as user name and " +
          "client_secret as password. The alternative, `client_secret_post`, sends both in the request body instead; " +
          "never use both at once.",
      },
      scannerSignature: {
        type: "apiKey",
        in: "header",
        name: "Github-Public-Key-Signature",
        description:
          "A secret scanner's signature of the raw body (ECDSA P-256 SHA-256, DER, base64) by the key that " +
          "`Github-Public-Key-Identifier` names in the configured public-keys document.",
      },
      appJwt: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description:
          "A GitHub-style app JWT signed with one of the application's keys (RS256 or ES256): `iss` the client_id, `iat`, " +
          "`exp` at most 10 minutes after `iat`; a `jti`, if present, is single-use.",
      },
    },
  },
} as const;

type Json = Record<string, unknown>;

/**
 * @fastify/swagger marks every request body required, since Fastify validates a missing
 * body against the schema; a body schema that admits null (POST …/secrets) is optional.
 */
function optionalNullableBodies(openapi: Json): Json {
  for (const item of Object.values((openapi.paths ?? {}) as Record<string, Record<string, Json>>)) {
    for (const operation of Object.values(item)) {
      const body = operation.requestBody as { required?: boolean; content?: Record<string, { schema?: { type?: unknown } }> } | undefined;
      const types = Object.values(body?.content ?? {}).map((media) => [media.schema?.type].flat());
      if (body && types.length > 0 && types.every((type) => type.includes("null"))) body.required = false;
    }
  }
  return openapi;
}

export interface OpenApiOptions {
  /** Serve the document (GET /openapi.json) and the API reference page (GET /docs): APPGRANT_DOCS. */
  serve: boolean;
}

/** Registered before every route (it collects them as they are added), on the root instance. */
export async function openApi(app: FastifyInstance, { serve }: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: structuredClone(document) as never,
    transformObject: (result) => optionalNullableBodies(("openapiObject" in result ? result.openapiObject : result.swaggerObject) as Json) as never,
  });
  if (!serve) return;
  // hide: the document describes the API, not its own pages (as @fastify/swagger-ui's routes).
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    // Everything the page needs is served from /docs/static; no request leaves for an online validator.
    uiConfig: { validatorUrl: null, deepLinking: true },
  });
}
