// A GitHub-compatible endpoint for installation access tokens, so that apps can reuse
// GitHub App tooling (Octokit's app auth, the CLIs and actions built on it) against a
// platform running appgrant: the app signs a short JWT with its private key (GitHub's
// "app JWT": RS256 or ES256, iss = the client_id, iat, exp at most 10 minutes after
// iat; no aud or jti needed, a jti if present is single-use) and
//
//   POST /app/installations/{installation_id}/access_tokens   {"scopes": [...]}?  → 201
//   GET  /app/installations                                                        → 200
//
// The token is minted by the same function as grant_type=client_credentials
// (src/oauth/installation-token.ts); only the envelope differs: GitHub's status codes
// and `{message}` errors.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { listActiveInstallations } from "../../domain/installations.js";
import { AssertionRefused, assertionIssuer, CLIENT_ASSERTION_RULES, verifyAssertion } from "../../oauth/client-assertion.js";
import { type AuthenticatedClient, clientOf } from "../../oauth/client-auth.js";
import { invalidClient, OAuthError } from "../../oauth/errors.js";
import { MintRefused, mintInstallationToken } from "../../oauth/installation-token.js";
import type { OAuthStore } from "../../oauth/token-store.js";
import { parseScopes } from "../../shared/scopes.js";
import { asUnavailable } from "../../shared/unavailable.js";
import { oauthRateLimits, RateLimitError, type RateLimitSettings } from "../oauth/rate-limit.js";

export interface GitHubOptions {
  store: OAuthStore;
  rateLimits: RateLimitSettings;
}

/** GitHub's app JWT: RS256 (GitHub's) or ES256, iss only, iat required, 10 minutes at most. */
const APP_JWT_RULES = { ...CLIENT_ASSERTION_RULES, algorithms: ["RS256", "ES256"], subject: false, requireJti: false, requireIat: true };

class GitHubError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const messageSchema = {
  type: "object",
  properties: { message: { type: "string" }, documentation_url: { type: "string" } },
  required: ["message"],
} as const;
const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, { ...messageSchema, description: `GitHub's error shape: \`{"message": …}\`.` }]));

/** The RFC 6749 error code each GitHub status stands for, as the token metrics' outcome label. */
const OUTCOMES: Record<number, string> = {
  400: "invalid_request",
  401: "invalid_client",
  403: "unauthorized_client",
  404: "invalid_grant",
  415: "invalid_request",
  422: "invalid_scope",
  429: "temporarily_unavailable",
  503: "temporarily_unavailable",
};
const refusals = new WeakMap<FastifyRequest, string>();
const authenticated = new WeakMap<FastifyRequest, string>();

function sendError(reply: FastifyReply, request: FastifyRequest, status: number, message: string, retryAfter?: number) {
  refusals.set(request, OUTCOMES[status] ?? "server_error");
  if (retryAfter !== undefined) reply.header("Retry-After", String(retryAfter));
  request.log.info({ status, reason: message }, "GitHub-compatible request refused");
  return reply.code(status).send({ message });
}

export async function githubCompatible(app: FastifyInstance, options: GitHubOptions): Promise<void> {
  const { store } = options;
  const { clock } = app.domain;

  app.removeAllContentTypeParsers();
  // Octokit sends an empty JSON body, or none; both mean "all of the installation's scopes".
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GitHubError(400, "Problems parsing JSON"), undefined);
    }
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof GitHubError) return sendError(reply, request, error.statusCode, error.message);
    if (error instanceof OAuthError) {
      if (error.statusCode === 429) {
        if (error instanceof RateLimitError) app.metrics.rateLimited(error.limit);
        return sendError(reply, request, 429, "API rate limit exceeded", error.retryAfter);
      }
      if (error.error === "invalid_client") {
        app.metrics.clientAuthFailure("github_app_jwt");
        return sendError(reply, request, 401, error.description);
      }
    }
    const unavailable = asUnavailable(error);
    if (unavailable) return sendError(reply, request, 503, "Service unavailable", unavailable.retryAfter);
    if (error.statusCode === 415) return sendError(reply, request, 415, "Unsupported media type: send application/json");
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return sendError(reply, request, 400, "Bad request");
    request.log.error({ err: error }, "GitHub-compatible endpoint failure");
    return sendError(reply, request, 500, "Server error");
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, request, 404, "Not Found"));
  // The schemas document (openapi.yaml); the handlers check what they read themselves, as
  // GitHub does (a string where an array belongs is a 422, never coerced into one).
  app.setValidatorCompiler(() => () => true);

  const limits = await oauthRateLimits(app, options.rateLimits);
  // Installation tokens minted here are counted with the token endpoint's, as grant type "github_app".
  app.addHook("onResponse", async (request, reply) => {
    if (request.method !== "POST" || request.routeOptions.url === undefined || !request.routeOptions.url.endsWith("/access_tokens")) return;
    app.metrics.tokenRequest(
      "github_app",
      reply.statusCode === 201 ? "success" : (refusals.get(request) ?? "server_error"),
      authenticated.get(request),
    );
  });

  /** The app the Bearer JWT proves, under the failure limits of client authentication. */
  const authenticateApp = (request: FastifyRequest): Promise<AuthenticatedClient> =>
    limits.authenticate(request, async () => {
      const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? "");
      if (!match) throw invalidClient("a JSON web token is required: Authorization: Bearer <app JWT>");
      const now = clock();
      try {
        const clientId = assertionIssuer(match[1]!);
        const client = await store.findClient(clientId, now);
        if (!client) throw invalidClient("the JWT's iss is not a known application", "unknown client_id");
        if (client.clientType !== "confidential") throw invalidClient("a public client has no keys to sign with");
        await verifyAssertion(match[1]!, client, await store.findClientKeys(client.id), store, now, APP_JWT_RULES);
        authenticated.set(request, client.clientId);
        return clientOf(client, "private_key_jwt");
      } catch (error) {
        if (error instanceof AssertionRefused) throw invalidClient(`the app JWT is refused: ${error.reason}`);
        throw error;
      }
    });

  const security = [{ appJwt: [] }];
  const tags = ["github"];

  // Typed by hand, not from the schemas: nothing validates them (setValidatorCompiler above), so the body is what was sent.
  app.post<{ Params: { installation_id: string }; Body: { scopes?: unknown } | undefined }>(
    "/installations/:installation_id/access_tokens",
    {
      preHandler: limits.hooks,
      schema: {
        tags,
        security,
        operationId: "githubCreateInstallationAccessToken",
        summary: "Mint an installation access token with an app JWT (GitHub-compatible).",
        description:
          "GitHub's `POST /app/installations/{installation_id}/access_tokens`: `Authorization: Bearer <app JWT>` (RS256 or " +
          "ES256, signed with one of the application's keys; `iss` the client_id; `iat`; `exp` at most 10 minutes after " +
          "`iat`). The same token as `grant_type=client_credentials`. The application needs `client_credentials` in its " +
          "`grant_types`.",
        params: { type: "object", properties: { installation_id: { type: "string" } }, required: ["installation_id"] },
        body: {
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { scopes: { type: "array", items: { type: "string" }, description: "A subset of the installation's scopes." } },
              },
            },
          },
        },
        response: {
          201: {
            type: "object",
            "x-response-description": "The token (`agi_…`, shown once) and when it expires.",
            properties: {
              token: { type: "string" },
              expires_at: { type: "string", format: "date-time" },
              scopes: { type: "array", items: { type: "string" } },
              installation_id: { type: "string" },
            },
            required: ["token", "expires_at", "scopes", "installation_id"],
          },
          ...errorResponses(400, 401, 403, 404, 415, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      reply.header("Cache-Control", "no-store");
      const client = await authenticateApp(request);
      if (!client.grantTypes.has("client_credentials")) {
        throw new GitHubError(403, "installation tokens are not enabled for this application (grant_types lacks client_credentials)");
      }
      const body = request.body ?? {};
      if (typeof body !== "object" || Array.isArray(body)) throw new GitHubError(400, "Problems parsing JSON");
      let scopes: string[] | undefined;
      if (body.scopes !== undefined) {
        if (!Array.isArray(body.scopes) || !body.scopes.every((scope) => typeof scope === "string" && scope !== "")) {
          throw new GitHubError(422, "scopes must be an array of scope names");
        }
        scopes = body.scopes as string[];
      }
      try {
        const minted = await mintInstallationToken(store, {
          client,
          installationId: request.params.installation_id,
          scopes,
          now: clock(),
          lifetime: app.config.installationTokenLifetime,
        });
        request.log.info({ tokenId: minted.tokenId, installationId: minted.installationId }, "installation access token issued");
        return reply.code(201).send({
          token: minted.token,
          expires_at: minted.expiresAt.toISOString(),
          scopes: minted.scopes,
          installation_id: minted.installationId,
        });
      } catch (error) {
        if (!(error instanceof MintRefused)) throw error;
        if (error.refusal === "no_installation") throw new GitHubError(404, "Not Found");
        if (error.refusal === "scope_widened") throw new GitHubError(422, error.description);
        throw new GitHubError(403, error.description);
      }
    },
  );

  app.get<{ Querystring: { per_page?: string; page?: string } }>(
    "/installations",
    {
      preHandler: limits.hooks,
      schema: {
        tags,
        security,
        operationId: "githubListInstallations",
        summary: "List the app's installations with an app JWT (GitHub-compatible).",
        description: "Active and suspended installations (`suspended_at` is set on the latter, as GitHub's is); not uninstalled ones.",
        querystring: {
          type: "object",
          properties: {
            per_page: { type: "string", description: "1 to 100, default 30." },
            page: { type: "string", description: "1-based, default 1." },
          },
        },
        response: {
          200: {
            type: "array",
            "x-response-description": "The installations, oldest first.",
            items: {
              type: "object",
              properties: {
                id: { type: "string" },
                account: { type: "string" },
                scopes: { type: "array", items: { type: "string" } },
                created_at: { type: "string", format: "date-time" },
                suspended_at: { type: ["string", "null"], format: "date-time" },
              },
              required: ["id", "account", "scopes", "created_at", "suspended_at"],
            },
          },
          ...errorResponses(401, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      reply.header("Cache-Control", "no-store");
      const client = await authenticateApp(request);
      const number = (value: string | undefined, fallback: number, max: number) => {
        if (value === undefined) return fallback;
        if (!/^[1-9][0-9]{0,5}$/.test(value) || Number(value) > max) throw new GitHubError(422, `per_page must be 1 to 100 and page at least 1`);
        return Number(value);
      };
      const perPage = number(request.query.per_page, 30, 100);
      const page = number(request.query.page, 1, 100_000);
      const installations = await listActiveInstallations(app.domain, client.id, { perPage, page });
      return installations.map((installation) => ({
        id: installation.id,
        account: installation.account,
        scopes: parseScopes(installation.scopes),
        created_at: installation.createdAt.toISOString(),
        suspended_at: installation.suspendedAt?.toISOString() ?? null,
      }));
    },
  );
}
