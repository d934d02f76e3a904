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
import { asAdmin } from "./actor.js";
import * as s from "./schemas.js";
import { applicationJson, secretJson } from "../../domain/views.js";

const tags = ["applications"];
const security = s.adminSecurity;

export async function applicationRoutes(instance: FastifyInstance): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();
  const { clock } = app.domain;

  app.post(
    "/applications",
    {
      schema: {
        tags,
        security,
        operationId: "createApplication",
        summary: "Register an application (OAuth client).",
        body: s.createApplicationBody,
        response: {
          201: {
            ...s.createdApplication,
            "x-response-description":
              "The application. `client_secret` and `webhook_secret` are shown once, here, and never again: the client " +
              "secret is stored only as an argon2id hash (`null` for a public client, which has no secret), the webhook " +
              "secret only encrypted.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { application, clientSecret, webhookSecret } = await createApplication(asAdmin(request), {
        name: request.body.name,
        redirectUris: request.body.redirect_uris,
        scopes: request.body.scopes,
        webhookUrl: request.body.webhook_url ?? null,
        clientType: request.body.client_type ?? "confidential",
        ...(request.body.grant_types !== undefined ? { grantTypes: request.body.grant_types } : {}),
      });
      request.log.info({ applicationId: application.id, clientId: application.clientId }, "application created");
      return reply.code(201).send({ ...applicationJson(application), client_secret: clientSecret, webhook_secret: webhookSecret });
    },
  );

  app.get(
    "/applications",
    {
      schema: {
        tags,
        security,
        operationId: "listApplications",
        summary: "List applications, oldest first, with cursor pagination.",
        querystring: s.listQuery,
        response: {
          200: { ...s.applicationList, "x-response-description": "One page of applications; `next_cursor` is null on the last page." },
          ...s.adminErrors(400, 401, 503),
        },
      },
    },
    async (request) => {
      const page = await listApplications(asAdmin(request), request.query);
      return { items: page.items.map(applicationJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    "/applications/:id",
    {
      schema: {
        tags,
        security,
        operationId: "getApplication",
        summary: "Show an application (never its secrets).",
        params: s.idParams,
        response: { 200: { ...s.application, "x-response-description": "The application." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request) => applicationJson(await getApplication(asAdmin(request), request.params.id)),
  );

  app.patch(
    "/applications/:id",
    {
      schema: {
        tags,
        security,
        operationId: "updateApplication",
        summary: "Change an application's name, redirect URIs, scopes, webhook URL or grant types, or resume its webhooks.",
        description:
          '`"webhooks_paused": false` resumes webhooks paused because the endpoint kept failing: the pending deliveries ' +
          "are due at once, their give-up age counting from now. The fields and the resume are one change: a refused " +
          "field (400) resumes nothing. A resume alone records `application.webhooks_resumed`, not `application.updated`.",
        params: s.idParams,
        body: s.updateApplicationBody,
        response: {
          200: { ...s.application, "x-response-description": "The updated application." },
          ...s.adminErrors(400, 401, 404, 415, 503),
        },
      },
    },
    async (request) => {
      const body = request.body;
      const { application, webhooksResumed } = await updateApplication(asAdmin(request), request.params.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.redirect_uris !== undefined ? { redirectUris: body.redirect_uris } : {}),
        ...(body.scopes !== undefined ? { scopes: body.scopes } : {}),
        ...(body.webhook_url !== undefined ? { webhookUrl: body.webhook_url } : {}),
        ...(body.grant_types !== undefined ? { grantTypes: body.grant_types } : {}),
        ...(body.webhooks_paused === false ? { webhooksPaused: false } : {}),
      });
      if (webhooksResumed) request.log.info({ applicationId: request.params.id }, "webhooks resumed");
      return applicationJson(application);
    },
  );

  app.delete(
    "/applications/:id",
    {
      schema: {
        tags,
        security,
        operationId: "deleteApplication",
        summary: "Delete an application and revoke everything issued to it.",
        description: "Its secrets, installations, codes and tokens are revoked and deleted with it.",
        params: s.idParams,
        response: { 204: { type: "null", description: "Deleted." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      await deleteApplication(asAdmin(request), request.params.id);
      request.log.info({ applicationId: request.params.id }, "application deleted; everything issued to it revoked");
      return reply.code(204).send(null);
    },
  );

  app.post(
    "/applications/:id/webhook-secret",
    {
      schema: {
        tags,
        security,
        operationId: "rotateWebhookSecret",
        summary: "Replace the application's webhook signing secret.",
        description: "The previous secret stops signing at once.",
        params: s.idParams,
        response: {
          201: {
            ...s.createdWebhookSecret,
            "x-response-description":
              "The new secret. `webhook_secret` is shown once, here, and never again: it is stored encrypted " +
              "(AES-256-GCM under a key derived from the server key).",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const webhookSecret = await rotateWebhookSecret(asAdmin(request), request.params.id);
      request.log.info({ applicationId: request.params.id }, "webhook secret rotated");
      return reply.code(201).send({ webhook_secret: webhookSecret });
    },
  );

  app.get(
    "/applications/:id/secrets",
    {
      schema: {
        tags,
        security,
        operationId: "listSecrets",
        summary: "List an application's client secrets (metadata only, never the secret).",
        params: s.idParams,
        response: {
          200: { ...s.secretList, "x-response-description": "Every stored secret of the application, oldest first." },
          ...s.adminErrors(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const now = clock();
      return { items: (await listSecrets(asAdmin(request), request.params.id)).map((secret) => secretJson(secret, now)) };
    },
  );

  app.post(
    "/applications/:id/secrets",
    {
      schema: {
        tags,
        security,
        operationId: "addSecret",
        summary: "Add a client secret (rotation without downtime).",
        description:
          "An application holds at most two active secrets: add the new one, deploy it, then delete the old one. " +
          "A third is refused with 409, as is a secret for a public client.",
        params: s.idParams,
        body: s.createSecretBody,
        response: {
          201: {
            ...s.createdSecret,
            "x-response-description": "The new secret. `client_secret` is shown once, here, and never again: only its argon2id hash is stored.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 409, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const expiresAt = request.body?.expires_at ? new Date(request.body.expires_at) : null;
      const { secret, clientSecret } = await addSecret(asAdmin(request), request.params.id, { expiresAt });
      request.log.info({ applicationId: request.params.id, secretId: secret.id }, "client secret added");
      return reply.code(201).send({ ...secretJson(secret, clock()), client_secret: clientSecret });
    },
  );

  app.delete(
    "/applications/:id/secrets/:secretId",
    {
      schema: {
        tags,
        security,
        operationId: "deleteSecret",
        summary: "Delete a client secret; it stops authenticating at once.",
        description:
          "Deleting the application's last working secret (no other unexpired one is left) would lock it out of the " +
          "token endpoint: that is refused with 409 unless `force=true`.",
        params: s.secretParams,
        querystring: s.deleteSecretQuery,
        response: { 204: { type: "null", description: "Deleted." }, ...s.adminErrors(400, 401, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const { force } = request.query;
      await deleteSecret(asAdmin(request), request.params.id, request.params.secretId, { force }).catch((error: unknown) => {
        throw error instanceof LastSecretError ? conflict(`${error.message} force=true`) : error;
      });
      request.log.info({ applicationId: request.params.id, secretId: request.params.secretId, force }, "client secret deleted");
      return reply.code(204).send(null);
    },
  );
}
