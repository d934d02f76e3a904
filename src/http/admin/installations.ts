import type { FastifyInstance } from "fastify";
import { createInstallation, getInstallation, listInstallations, pendingCode, reissueCode, uninstall } from "../../domain/installations.js";
import { asAdmin } from "./actor.js";
import * as s from "./schemas.js";
import { installationJson } from "../../domain/views.js";
import { suspendInstallation, unsuspendInstallation } from "../../domain/installation-suspension.js";
import { answerPermissionRequest } from "../../domain/installation-permissions.js";

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
      const pending = installation.status !== "uninstalled" ? await pendingCode(asAdmin(request), installation.id) : null;
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

  const installationResponse = (text: string) => ({
    200: { ...s.installation, "x-response-description": text },
    ...s.adminErrors(400, 401, 404, 409, 415, 503),
  });

  app.post(
    "/installations/:id/suspend",
    {
      schema: {
        tags,
        security,
        operationId: "suspendInstallation",
        summary: "Suspend an installation: the application is cut off from the account, nothing is deleted.",
        description:
          'While suspended, no token is issued or refreshed for the installation (`invalid_grant`, "the installation ' +
          'is suspended"; 403 on the GitHub-compatible endpoint), its codes cannot be exchanged, every token of it ' +
          "introspects `active: false`, and its webhooks are held (kept pending, not attempted) except " +
          "`installation.suspended` itself. Nothing is revoked: `…/unsuspend` restores it. Suspending a suspended " +
          "installation changes nothing; an uninstalled one is a 409.",
        params: s.idParams,
        body: s.suspendBody,
        response: installationResponse("The suspended installation."),
      },
    },
    async (request) => {
      const { installation, changed } = await suspendInstallation(asAdmin(request), request.params.id, request.body?.reason);
      if (changed) request.log.info({ installationId: installation.id }, "installation suspended");
      return installationJson(installation);
    },
  );

  app.post(
    "/installations/:id/unsuspend",
    {
      schema: {
        tags,
        security,
        operationId: "unsuspendInstallation",
        summary: "Unsuspend an installation: its unexpired, unrevoked tokens and codes work again; held webhooks are sent.",
        description:
          "The held webhooks are sent in order, their give-up age counting from now, followed by " +
          "`installation.unsuspended`. Unsuspending an active installation changes nothing; an uninstalled one is a 409.",
        params: s.idParams,
        response: installationResponse("The installation, active again."),
      },
    },
    async (request) => {
      const { installation, changed } = await unsuspendInstallation(asAdmin(request), request.params.id);
      if (changed) request.log.info({ installationId: installation.id }, "installation unsuspended");
      return installationJson(installation);
    },
  );

  for (const answer of ["accept", "reject"] as const) {
    app.post(
      `/installations/:id/permissions/${answer}`,
      {
        schema: {
          tags,
          security,
          operationId: `${answer}InstallationPermissions`,
          summary:
            answer === "accept"
              ? "Grant the installation the scopes its application added (its pending_scopes)."
              : "Decline the scopes the application added; the installation keeps the ones it has.",
          description:
            "When `PATCH /admin/v1/applications/{id}` adds scopes, each installation keeps its own and lists the new ones " +
            "in `pending_scopes` (with an `installation.new_permissions_requested` webhook). " +
            (answer === "accept"
              ? "Accepting adds them to `scopes` (an `installation.new_permissions_accepted` webhook): new tokens may carry them. "
              : "Rejecting empties `pending_scopes` (an `installation.new_permissions_rejected` event, no webhook). ") +
            "409 when nothing is pending or the installation is uninstalled.",
          params: s.idParams,
          response: installationResponse(answer === "accept" ? "The installation with its new scopes." : "The installation, nothing pending."),
        },
      },
      async (request) => {
        const installation = await answerPermissionRequest(asAdmin(request), request.params.id, answer === "accept");
        request.log.info({ installationId: installation.id }, `installation permission request ${answer}ed`);
        return installationJson(installation);
      },
    );
  }
}
