import type { FastifyInstance } from "fastify";
import {
  addSecret,
  createApplication,
  deleteApplication,
  deleteSecret,
  getApplication,
  LastSecretError,
  listApplications,
  listSecrets,
  rotateWebhookSecret,
  updateApplication,
} from "../../domain/applications.js";
import { conflict } from "../../domain/errors.js";
import * as s from "./schemas.js";
import { resumeWebhooks } from "../../domain/webhook-pause.js";
import { applicationJson, secretJson } from "../../domain/views.js";

interface AppBody {
  name?: string;
  redirect_uris?: string[];
  scopes?: string[];
  webhook_url?: string | null;
  client_type?: "confidential" | "public";
  webhooks_paused?: false;
}
type IdParams = { id: string };

export async function applicationRoutes(app: FastifyInstance): Promise<void> {
  const ctx = app.domain;

  app.post<{ Body: AppBody & { name: string; redirect_uris: string[]; scopes: string[] } }>(
    "/applications",
    { schema: { body: s.createApplicationBody, response: { 201: s.createdApplication, ...s.errorResponses } } },
    async (request, reply) => {
      const { application, clientSecret, webhookSecret } = await createApplication(ctx, {
        name: request.body.name,
        redirectUris: request.body.redirect_uris,
        scopes: request.body.scopes,
        webhookUrl: request.body.webhook_url ?? null,
        clientType: request.body.client_type ?? "confidential",
      });
      request.log.info({ applicationId: application.id, clientId: application.clientId }, "application created");
      return reply.code(201).send({ ...applicationJson(application), client_secret: clientSecret, webhook_secret: webhookSecret });
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/applications",
    { schema: { querystring: s.listQuery, response: { 200: s.applicationList, ...s.errorResponses } } },
    async (request) => {
      const page = await listApplications(ctx, request.query);
      return { items: page.items.map(applicationJson), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: IdParams }>(
    "/applications/:id",
    { schema: { params: s.idParams, response: { 200: s.application, ...s.errorResponses } } },
    async (request) => applicationJson(await getApplication(ctx, request.params.id)),
  );

  app.patch<{ Params: IdParams; Body: AppBody }>(
    "/applications/:id",
    { schema: { params: s.idParams, body: s.updateApplicationBody, response: { 200: s.application, ...s.errorResponses } } },
    async (request) => {
      const body = request.body;
      if (body.webhooks_paused === false && (await resumeWebhooks(ctx, request.params.id))) {
        request.log.info({ applicationId: request.params.id }, "webhooks resumed");
      }
      const updated = await updateApplication(ctx, request.params.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.redirect_uris !== undefined ? { redirectUris: body.redirect_uris } : {}),
        ...(body.scopes !== undefined ? { scopes: body.scopes } : {}),
        ...(body.webhook_url !== undefined ? { webhookUrl: body.webhook_url } : {}),
      });
      return applicationJson(updated);
    },
  );

  app.delete<{ Params: IdParams }>(
    "/applications/:id",
    { schema: { params: s.idParams, response: { 204: { type: "null" }, ...s.errorResponses } } },
    async (request, reply) => {
      await deleteApplication(ctx, request.params.id);
      request.log.info({ applicationId: request.params.id }, "application deleted; everything issued to it revoked");
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams }>(
    "/applications/:id/webhook-secret",
    { schema: { params: s.idParams, response: { 201: s.createdWebhookSecret, ...s.errorResponses } } },
    async (request, reply) => {
      const webhookSecret = await rotateWebhookSecret(ctx, request.params.id);
      request.log.info({ applicationId: request.params.id }, "webhook secret rotated");
      return reply.code(201).send({ webhook_secret: webhookSecret });
    },
  );

  app.get<{ Params: IdParams }>(
    "/applications/:id/secrets",
    { schema: { params: s.idParams, response: { 200: s.secretList, ...s.errorResponses } } },
    async (request) => {
      const now = ctx.clock();
      return { items: (await listSecrets(ctx, request.params.id)).map((secret) => secretJson(secret, now)) };
    },
  );

  app.post<{ Params: IdParams; Body: { expires_at?: string } | null }>(
    "/applications/:id/secrets",
    { schema: { params: s.idParams, body: s.createSecretBody, response: { 201: s.createdSecret, ...s.errorResponses } } },
    async (request, reply) => {
      const expiresAt = request.body?.expires_at ? new Date(request.body.expires_at) : null;
      const { secret, clientSecret } = await addSecret(ctx, request.params.id, { expiresAt });
      request.log.info({ applicationId: request.params.id, secretId: secret.id }, "client secret added");
      return reply.code(201).send({ ...secretJson(secret, ctx.clock()), client_secret: clientSecret });
    },
  );

  app.delete<{ Params: IdParams & { secretId: string }; Querystring: { force: boolean } }>(
    "/applications/:id/secrets/:secretId",
    {
      schema: {
        params: { ...s.idParams, properties: { ...s.idParams.properties, secretId: s.idParams.properties.id }, required: ["id", "secretId"] },
        querystring: s.deleteSecretQuery,
        response: { 204: { type: "null" }, ...s.errorResponses },
      },
    },
    async (request, reply) => {
      const { force } = request.query;
      await deleteSecret(ctx, request.params.id, request.params.secretId, { force }).catch((error: unknown) => {
        throw error instanceof LastSecretError ? conflict(`${error.message} force=true`) : error;
      });
      request.log.info({ applicationId: request.params.id, secretId: request.params.secretId, force }, "client secret deleted");
      return reply.code(204).send();
    },
  );
}
