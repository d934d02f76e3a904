import type { FastifyInstance } from "fastify";
import { createInstallation, getInstallation, listInstallations, pendingCode, reissueCode, uninstall } from "../../domain/installations.js";
import { asAdmin } from "./actor.js";
import * as s from "./schemas.js";
import { installationJson } from "../../domain/views.js";

const tags = ["installations"];
const security = s.adminSecurity;

export async function installationRoutes(instance: FastifyInstance): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();

  app.post(
    "/installations",
    {
      schema: {
        tags,
        security,
        operationId: "createInstallation",
        summary: "Install an application into an account and issue its authorization code.",
        description:
          "`scopes` default to all the application's scopes and may not exceed them. An application has at most one " +
          "active installation per account (409 otherwise).",
        body: s.createInstallationBody,
        response: {
          201: {
            ...s.issuedCode,
            "x-response-description":
              "The installation with its authorization code. `code` is shown once, here (or by " +
              "`POST /admin/v1/installations/{id}/code`), and never again: only its SHA-256 hash is stored. " +
              "`redirect_to` (present when the application has exactly one redirect URI) is that URI with `code`, " +
              "`installation_id`, `account` and `iss` added: where the platform sends the user's browser. When the " +
              "application has a webhook URL, an `installation.created` webhook carrying the code is sent in the background.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 409, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const created = await createInstallation(asAdmin(request), {
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

  app.get(
    "/installations",
    {
      schema: {
        tags,
        security,
        operationId: "listInstallations",
        summary: "List installations, oldest first, filtered and with cursor pagination.",
        querystring: s.installationQuery,
        response: {
          200: { ...s.installationList, "x-response-description": "One page of installations; `next_cursor` is null on the last page." },
          ...s.adminErrors(400, 401, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor, client_id, account, status } = request.query;
      const page = await listInstallations(asAdmin(request), { clientId: client_id, account, status }, { limit, cursor });
      return { items: page.items.map(installationJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    "/installations/:id",
    {
      schema: {
        tags,
        security,
        operationId: "getInstallation",
        summary: "Show an installation.",
        description:
          "`code_expires_at` is present while the installation's code can still be exchanged (unexpired, " +
          "unexchanged, unrevoked). The code itself is never shown here.",
        params: s.idParams,
        response: { 200: { ...s.installation, "x-response-description": "The installation." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const installation = await getInstallation(asAdmin(request), request.params.id);
      const pending = installation.status === "active" ? await pendingCode(asAdmin(request), installation.id) : null;
      return { ...installationJson(installation), ...(pending ? { code_expires_at: pending.expiresAt } : {}) };
    },
  );

  app.post(
    "/installations/:id/code",
    {
      schema: {
        tags,
        security,
        operationId: "reissueCode",
        summary: "Issue a fresh authorization code (the first was lost or expired).",
        description: "Any earlier unexchanged code of the installation is revoked. 409 when uninstalled.",
        params: s.idParams,
        response: {
          201: {
            ...s.issuedCode,
            "x-response-description":
              "The installation with its new code. `code` is shown once, here, and never again: only its SHA-256 hash is stored.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 409, 503),
        },
      },
    },
    async (request, reply) => {
      const issued = await reissueCode(asAdmin(request), request.params.id);
      request.log.info({ installationId: issued.installation.id }, "installation code reissued");
      return reply
        .code(201)
        .send({ ...installationJson(issued.installation), code: issued.code, code_expires_at: issued.authorizationCode.expiresAt });
    },
  );

  app.delete(
    "/installations/:id",
    {
      schema: {
        tags,
        security,
        operationId: "uninstall",
        summary: "Uninstall; revokes every code and token of the installation at once.",
        description:
          "Uninstalling an uninstalled installation changes nothing and answers 204. When the application has a " +
          "webhook URL, the first uninstall sends an `installation.deleted` webhook.",
        params: s.idParams,
        response: { 204: { type: "null", description: "Uninstalled." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      await uninstall(asAdmin(request), request.params.id);
      request.log.info({ installationId: request.params.id }, "installation uninstalled; its codes and tokens revoked");
      return reply.code(204).send(null);
    },
  );
}
