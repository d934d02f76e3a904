// The consent side of the headless authorization endpoint: the platform's consent
// page reads the pending request, then accepts or rejects it.
import type { FastifyInstance } from "fastify";
import { acceptAuthorizationRequest, getAuthorizationRequest, rejectAuthorizationRequest } from "../../domain/authorization-requests.js";
import { parseScopes } from "../../shared/scopes.js";
import { asAdmin } from "./actor.js";
import * as s from "./schemas.js";

const authorizationRequest = {
  type: "object",
  properties: {
    id: { type: "string" },
    client_id: { type: "string" },
    application: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    scopes: { type: "array", items: { type: "string" } },
    redirect_uri: { type: "string" },
    status: { type: "string", enum: ["pending", "accepted", "rejected"] },
    expires_at: { type: "string", format: "date-time" },
  },
  required: ["id", "client_id", "application", "scopes", "redirect_uri", "status", "expires_at"],
} as const;

const redirect = {
  type: "object",
  properties: { redirect_to: { type: "string", description: "Send the user's browser here." } },
  required: ["redirect_to"],
} as const;

/** What the platform answers a consent with (authorization and device authorization requests). */
export const acceptBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    account: { ...s.createInstallationBody.properties.account, description: "The account the user chose." },
    scopes: { ...s.applicationInput.scopes, description: "Default the scopes the application asked for." },
  },
  required: ["account"],
} as const;

const tags = ["authorization-requests"];
const security = s.adminSecurity;

export async function authorizationRequestRoutes(instance: FastifyInstance): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();

  app.get(
    "/authorization-requests/:id",
    {
      schema: {
        tags,
        security,
        operationId: "getAuthorizationRequest",
        summary: "Show a pending authorization request, for the consent page.",
        description: "`id` is the `request_id` that `/oauth/authorize` added to the consent URL.",
        params: s.idParams,
        response: {
          200: { ...authorizationRequest, "x-response-description": "What the application asks for." },
          ...s.adminErrors(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const found = await getAuthorizationRequest(asAdmin(request), request.params.id);
      return {
        id: found.id,
        client_id: found.application.clientId,
        application: { name: found.application.name },
        scopes: parseScopes(found.scopes),
        redirect_uri: found.redirectUri,
        // The column is a plain string that the domain only ever sets to one of these.
        status: found.status as (typeof authorizationRequest.properties.status.enum)[number],
        expires_at: found.expiresAt,
      };
    },
  );

  app.post(
    "/authorization-requests/:id/accept",
    {
      schema: {
        tags,
        security,
        operationId: "acceptAuthorizationRequest",
        summary: "Accept: install the application into the account and issue a code.",
        description:
          "Creates the installation for (application, account), or reuses the active one, and issues a code bound to " +
          "the request's redirect URI and PKCE challenge. A request is answered once: a second answer, or an answer " +
          "after it expired, is 409.",
        params: s.idParams,
        body: acceptBody,
        response: {
          200: {
            ...redirect,
            "x-response-description":
              "Where to send the browser: the client's redirect URI with `code`, `state` and `iss`. The code in it is " +
              "shown once: only its SHA-256 hash is stored.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 409, 415, 503),
        },
      },
    },
    async (request) => {
      const accepted = await acceptAuthorizationRequest(asAdmin(request), request.params.id, request.body);
      request.log.info(
        { authorizationRequestId: request.params.id, installationId: accepted.installation.id, installationCreated: accepted.created },
        "authorization request accepted",
      );
      return { redirect_to: accepted.redirectTo };
    },
  );

  app.post(
    "/authorization-requests/:id/reject",
    {
      schema: {
        tags,
        security,
        operationId: "rejectAuthorizationRequest",
        summary: "Reject: the user declined.",
        description: "A request is answered once; a second answer, or an answer after it expired, is 409.",
        params: s.idParams,
        response: {
          200: {
            ...redirect,
            "x-response-description": "Where to send the browser: the client's redirect URI with `error=access_denied`, `state` and `iss`.",
          },
          ...s.adminErrors(400, 401, 404, 409, 503),
        },
      },
    },
    async (request) => {
      const rejected = await rejectAuthorizationRequest(asAdmin(request), request.params.id);
      request.log.info({ authorizationRequestId: request.params.id }, "authorization request rejected");
      return { redirect_to: rejected.redirectTo };
    },
  );
}
