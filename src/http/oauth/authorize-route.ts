// GET /oauth/authorize, headless (the Ory Hydra model): appgrant validates the
// request and stores it; the platform's consent page (APPGRANT_CONSENT_URL) logs the
// user in, picks the account and accepts or rejects through the admin API.
//
// Errors follow RFC 6749 §4.1.2.1: while the client or redirect_uri is not
// established, an error page (never a redirect: that would be an open redirector);
// afterwards, a redirect to the client with error, error_description, state and iss.
// The query's schema only documents it (see plugin.ts): a repeated or malformed
// parameter (read as the other endpoints read theirs, by readParams) must be answered in
// one of those two forms, not as a generic 400.
import type { FastifyInstance, FastifyReply } from "fastify";
import { findApplicationByClientId } from "../../domain/applications.js";
import { createAuthorizationRequest } from "../../domain/authorization-requests.js";
import { withQuery } from "../../shared/url.js";
import { parseList, parseScopes, requestedScopes } from "../../shared/scopes.js";
import { OAuthError } from "../../oauth/errors.js";
import { claimedForLog, readParams, requireValid } from "../../oauth/params.js";
import { noStore } from "./responses.js";
import { prose } from "../openapi.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Errors of this route are HTML pages for a browser (the OAuth context's error handler reads it). */
    errorPage?: boolean;
  }
}

const CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export function errorPageHtml(error: string, description: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>Authorization error</title></head>` +
    `<body><h1>Authorization error</h1><p><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p></body></html>\n`
  );
}

export function errorPage(reply: FastifyReply, status: number, error: string, description: string) {
  return reply
    .code(status)
    .type("text/html; charset=utf-8")
    .header("Content-Security-Policy", "default-src 'none'")
    .send(errorPageHtml(error, description));
}

/** The description of the first of `names` that was repeated or malformed; undefined when all are usable. */
function problem(query: ReturnType<typeof readParams>, names: string[]): string | undefined {
  try {
    requireValid(query, names);
    return undefined;
  } catch (error) {
    if (error instanceof OAuthError) return error.description;
    throw error;
  }
}

const htmlPage = (description: string) => ({ description, content: { "text/html": { schema: { type: "string" } } } });

// Documentation only, like every request schema of this context (see plugin.ts).
const schema = {
  tags: ["oauth"],
  operationId: "authorize",
  summary: "Start an authorization (RFC 6749 §4.1.1), headless.",
  description: prose(`appgrant does not log users in: it validates the request, stores it as a pending
authorization request (10 minutes, single use) and redirects the browser to the
platform's consent page, APPGRANT_CONSENT_URL, with \`request_id\` added. The platform
authenticates the user, picks the account, and accepts or rejects the request through
\`/admin/v1/authorization-requests/{id}\`.

Until the client and redirect URI are established, errors are an HTML error page, never a
redirect. After that, errors redirect to the client's redirect URI with \`error\`,
\`error_description\`, \`state\` and \`iss\` (RFC 6749 §4.1.2.1, RFC 9207). A repeated
parameter, or one that is not text (a NUL), is \`invalid_request\` (and a bad \`state\` is not
sent back). PKCE is S256 only, and required for public clients.
`),
  security: [],
  querystring: {
    type: "object",
    properties: {
      response_type: { type: "string", const: "code" },
      client_id: { type: "string" },
      redirect_uri: { type: "string", description: "One of the client's registered URIs, matched exactly; optional when it registered only one." },
      scope: { type: "string", description: "Space-separated; default all the application's scopes; may not exceed them." },
      state: { type: "string", description: "Returned unchanged to the client with the code or the error." },
      code_challenge: {
        type: "string",
        pattern: CHALLENGE.source,
        description: "PKCE (RFC 7636), 43 to 128 characters of `[A-Za-z0-9-._~]`.",
      },
      code_challenge_method: { type: "string", const: "S256", description: "`S256` only; `plain` is refused." },
    },
    required: ["response_type", "client_id"],
  },
  response: {
    302: {
      type: "null",
      description:
        "To the consent page (`APPGRANT_CONSENT_URL?request_id=…`), or, for an error once the client and redirect URI " +
        "are known, to the redirect URI with `error`, `error_description`, `state` and `iss`.",
      headers: {
        Location: { type: "string", description: "Where the browser goes next." },
        "Cache-Control": { type: "string", const: "no-store", description: "Always `no-store` (RFC 6749 §5.1)." },
      },
    },
    400: htmlPage(
      "HTML error page: the client is unknown, the redirect URI is not registered (or missing while several are), or " +
        "client_id or redirect_uri is missing, repeated or not text (a NUL). A path under `/oauth/authorize` that is " +
        "not percent-encoded UTF-8 gets one too.",
    ),
    503: htmlPage("HTML error page (`temporarily_unavailable`) while APPGRANT_CONSENT_URL is not set."),
  },
};

export function authorizeRoute(app: FastifyInstance): void {
  const { config, domain } = app;

  app.get("/authorize", { config: { errorPage: true }, schema }, async (request, reply) => {
    noStore(reply);
    const query = readParams(request.query);
    const page = (status: number, error: string, description: string) => {
      const clientId = claimedForLog((request.query as Record<string, unknown>).client_id);
      request.log.info({ clientId, oauthError: error, description }, "authorization request refused");
      return errorPage(reply, status, error, description);
    };
    if (config.consentUrl === undefined) {
      return page(503, "temporarily_unavailable", "the authorization endpoint is not configured: set APPGRANT_CONSENT_URL");
    }

    const unusable = problem(query, ["client_id", "redirect_uri"]);
    if (unusable !== undefined) return page(400, "invalid_request", unusable);
    const clientId = query.values.get("client_id");
    const requestedRedirect = query.values.get("redirect_uri");
    if (clientId === undefined) return page(400, "invalid_request", "client_id is required");
    const application = await findApplicationByClientId(domain, clientId);
    if (!application) return page(400, "invalid_client", "unknown client_id");
    const registered = parseList(application.redirectUris);
    // Exact string matching only (RFC 9700 §2.1).
    if (requestedRedirect !== undefined && !registered.includes(requestedRedirect)) {
      return page(400, "invalid_request", "redirect_uri is not registered for this client");
    }
    if (requestedRedirect === undefined && registered.length !== 1) {
      return page(400, "invalid_request", "redirect_uri is required: the client registered several");
    }
    const redirectUri = requestedRedirect ?? registered[0]!;

    // A repeated or malformed state is not sent back (the client gets the error without it).
    const state = query.values.get("state");
    const fail = (error: string, description: string) => {
      request.log.info({ clientId, oauthError: error, description }, "authorization request refused");
      return reply.redirect(withQuery(redirectUri, { error, error_description: description, state, iss: config.issuer }), 302);
    };

    const unusableParameter = problem(query, ["state", "response_type", "scope", "code_challenge", "code_challenge_method"]);
    if (unusableParameter !== undefined) return fail("invalid_request", unusableParameter);
    const param = (name: string) => query.values.get(name);
    const responseType = param("response_type");
    if (responseType === undefined) return fail("invalid_request", "response_type is required");
    if (responseType !== "code") return fail("unsupported_response_type", "only response_type=code is supported");
    if (!parseList(application.grantTypes).includes("authorization_code")) {
      return fail("unauthorized_client", "the client is not allowed to use the authorization code grant");
    }
    const scopes = requestedScopes(param("scope"), parseScopes(application.scopes));
    if (scopes === null) return fail("invalid_scope", "requested scope is not allowed for this client");
    const challenge = param("code_challenge");
    const method = param("code_challenge_method");
    if (challenge === undefined && method !== undefined) return fail("invalid_request", "code_challenge_method without code_challenge");
    if (challenge !== undefined) {
      // RFC 9700 §2.1.1: S256 only; "plain" (the RFC 7636 default) is refused.
      if (method !== "S256") return fail("invalid_request", "code_challenge_method must be S256");
      if (!CHALLENGE.test(challenge)) return fail("invalid_request", "code_challenge is malformed");
    } else if (application.clientType === "public") {
      return fail("invalid_request", "PKCE (code_challenge with S256) is required for public clients");
    }
    const pending = await createAuthorizationRequest(domain, {
      applicationId: application.id,
      redirectUri,
      redirectUriSent: requestedRedirect !== undefined,
      scopes,
      state: state ?? null,
      codeChallenge: challenge ?? null,
      codeChallengeMethod: challenge !== undefined ? "S256" : null,
    });
    request.log.info({ clientId, authorizationRequestId: pending.id }, "authorization request stored; redirecting to consent");
    return reply.redirect(withQuery(config.consentUrl, { request_id: pending.id }), 302);
  });
}
