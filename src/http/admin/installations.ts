import type { FastifyInstance } from "fastify";
import {
  createInstallation,
  getInstallation,
  type InstallationStatus,
  listInstallations,
  pendingCode,
  reissueCode,
  uninstall,
} from "../../domain/installations.js";
import * as s from "./schemas.js";
import { installationJson } from "../../domain/views.js";

type IdParams = { id: string };

export async function installationRoutes(app: FastifyInstance): Promise<void> {
  const ctx = app.domain;

  app.post<{ Body: { client_id: string; account: string; scopes?: string[] } }>(
    "/installations",
    { schema: { body: s.createInstallationBody, response: { 201: s.issuedCode, ...s.errorResponses } } },
    async (request, reply) => {
      const created = await createInstallation(ctx, {
        clientId: request.body.client_id,
        account: request.body.account,
        scopes: request.body.scopes,
      });
      request.log.info({ installationId: created.installation.id }, "installation created");
      return reply.code(201).send({
        ...installationJson(created.installation),
        code: created.code,
        code_expires_at: created.authorizationCode.expiresAt,
        ...(created.redirectTo !== null ? { redirect_to: created.redirectTo } : {}),
      });
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; client_id?: string; account?: string; status?: InstallationStatus } }>(
    "/installations",
    { schema: { querystring: s.installationQuery, response: { 200: s.installationList, ...s.errorResponses } } },
    async (request) => {
      const { limit, cursor, client_id, account, status } = request.query;
      const page = await listInstallations(ctx, { clientId: client_id, account, status }, { limit, cursor });
      return { items: page.items.map(installationJson), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: IdParams }>(
    "/installations/:id",
    { schema: { params: s.idParams, response: { 200: s.installation, ...s.errorResponses } } },
    async (request) => {
      const installation = await getInstallation(ctx, request.params.id);
      const pending = installation.status === "active" ? await pendingCode(ctx, installation.id) : null;
      return { ...installationJson(installation), ...(pending ? { code_expires_at: pending.expiresAt } : {}) };
    },
  );

  app.post<{ Params: IdParams }>(
    "/installations/:id/code",
    { schema: { params: s.idParams, response: { 201: s.issuedCode, ...s.errorResponses } } },
    async (request, reply) => {
      const issued = await reissueCode(ctx, request.params.id);
      request.log.info({ installationId: issued.installation.id }, "installation code reissued");
      return reply
        .code(201)
        .send({ ...installationJson(issued.installation), code: issued.code, code_expires_at: issued.authorizationCode.expiresAt });
    },
  );

  app.delete<{ Params: IdParams }>(
    "/installations/:id",
    { schema: { params: s.idParams, response: { 204: { type: "null" }, ...s.errorResponses } } },
    async (request, reply) => {
      await uninstall(ctx, request.params.id);
      request.log.info({ installationId: request.params.id }, "installation uninstalled; its codes and tokens revoked");
      return reply.code(204).send();
    },
  );
}
