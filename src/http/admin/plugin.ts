// The admin API: its own Fastify context with its own auth hook, error shape and
// 404, so nothing here leaks into the OAuth endpoints and vice versa.
import type { FastifyInstance } from "fastify";
import { presentsAdminToken } from "../admin-token.js";
import { malformedTextAt } from "../../shared/well-formed-text.js";
import { applicationRoutes } from "./applications.js";
import { adminError, adminErrorHandler } from "./errors.js";
import { installationRoutes } from "./installations.js";
import { authorizationRequestRoutes } from "./authorization-requests.js";
import { type DeviceLookupLimit, deviceAuthorizationRoutes } from "./device-authorizations.js";
import { eventRoutes } from "./events.js";
import { deliveryRoutes } from "./deliveries.js";
import { keyRoutes } from "./keys.js";

export async function adminApi(app: FastifyInstance, options: { deviceLookups: DeviceLookupLimit }): Promise<void> {
  app.setErrorHandler(adminErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    adminError(reply, 404, "not_found", `no admin route ${request.method} ${request.url.split("?")[0]!.slice(0, 200)}`),
  );

  // JSON only, as openapi.yaml says, whatever the root context accepts: any other
  // body type (a form, text) is a 415 in this API's error shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));

  app.addHook("onRequest", async (request, reply) => {
    // Responses carry client secrets, webhook secrets and codes; none may be kept by a
    // cache on the way, and the rest is private to the admin token's holder anyway.
    reply.header("Cache-Control", "no-store").header("Pragma", "no-cache");
    const expected = app.config.adminToken;
    if (expected === undefined) {
      return adminError(
        reply,
        503,
        "admin_disabled",
        "The admin API is disabled: set APPGRANT_ADMIN_TOKEN (at least 32 characters, e.g. `openssl rand -hex 32`) and restart appgrant.",
      );
    }
    const header = request.headers.authorization ?? "";
    if (!presentsAdminToken(request.headers, expected)) {
      reply.header("WWW-Authenticate", 'Bearer realm="appgrant-admin"');
      return adminError(reply, 401, "unauthorized", header === "" ? "missing admin token (Authorization: Bearer …)" : "invalid admin token");
    }
  });

  // Every input of every admin route, checked once before its schema: text the
  // database cannot store (NUL, a lone surrogate) is the caller's error, not a 500.
  app.addHook("preValidation", async (request, reply) => {
    const where = malformedTextAt(request.params, "params") ?? malformedTextAt(request.query, "querystring") ?? malformedTextAt(request.body, "body");
    if (where !== null) return adminError(reply, 400, "invalid_request", `${where} is not text (it holds a NUL or an unpaired surrogate)`);
  });

  await app.register(applicationRoutes);
  await app.register(keyRoutes);
  await app.register(installationRoutes);
  await app.register(authorizationRequestRoutes);
  await app.register(deviceAuthorizationRoutes, options.deviceLookups);
  await app.register(eventRoutes);
  await app.register(deliveryRoutes);
}
