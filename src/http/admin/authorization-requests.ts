// The consent side of the headless authorization endpoint: the platform's consent
// page reads the pending request, then accepts or rejects it.
import type { FastifyInstance } from "fastify";
import { acceptAuthorizationRequest, getAuthorizationRequest, rejectAuthorizationRequest } from "../../domain/authorization-requests.js";
import { parseScopes } from "../../shared/scopes.js";
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
  properties: { redirect_to: { type: "string" } },
  required: ["redirect_to"],
} as const;

const acceptBody = {
  type: "object",
  additionalProperties: false,
  properties: { account: s.createInstallationBody.properties.account, scopes: s.applicationInput.scopes },
  required: ["account"],
} as const;

type IdParams = { id: string };

export async function authorizationRequestRoutes(app: FastifyInstance): Promise<void> {
  const ctx = app.domain;

  app.get<{ Params: IdParams }>(
    "/authorization-requests/:id",
    { schema: { params: s.idParams, response: { 200: authorizationRequest, ...s.errorResponses } } },
    async (request) => {
      const found = await getAuthorizationRequest(ctx, request.params.id);
      return {
        id: found.id,
        client_id: found.application.clientId,
        application: { name: found.application.name },
        scopes: parseScopes(found.scopes),
        redirect_uri: found.redirectUri,
        status: found.status,
        expires_at: found.expiresAt,
      };
    },
  );

  app.post<{ Params: IdParams; Body: { account: string; scopes?: string[] } }>(
    "/authorization-requests/:id/accept",
    { schema: { params: s.idParams, body: acceptBody, response: { 200: redirect, ...s.errorResponses } } },
    async (request) => {
      const accepted = await acceptAuthorizationRequest(ctx, request.params.id, request.body);
      request.log.info(
        { authorizationRequestId: request.params.id, installationId: accepted.installation.id, installationCreated: accepted.created },
        "authorization request accepted",
      );
      return { redirect_to: accepted.redirectTo };
    },
  );

  app.post<{ Params: IdParams }>(
    "/authorization-requests/:id/reject",
    { schema: { params: s.idParams, response: { 200: redirect, ...s.errorResponses } } },
    async (request) => {
      const rejected = await rejectAuthorizationRequest(ctx, request.params.id);
      request.log.info({ authorizationRequestId: request.params.id }, "authorization request rejected");
      return { redirect_to: rejected.redirectTo };
    },
  );
}
