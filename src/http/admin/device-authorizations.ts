// The platform's verification page for the device flow (RFC 8628 §3.3), headless: it
// reads the device authorization by the user code the person typed, logs the person
// in, picks the account, then accepts or rejects it. User codes are short (2^40), so
// failed lookups are limited per caller address and window: behind the platform's own
// server, list it in APPGRANT_TRUST_PROXY and forward the person's address in
// X-Forwarded-For, or every person shares the platform's budget.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  acceptDeviceAuthorization,
  type DeviceAuthorizationWithApp,
  getDeviceAuthorization,
  rejectDeviceAuthorization,
} from "../../domain/device-authorizations.js";
import { DomainError } from "../../domain/errors.js";
import type { Counter } from "../../shared/counter.js";
import { parseScopes } from "../../shared/scopes.js";
import { limitAddress } from "../oauth/rate-limit.js";
import { asAdmin } from "./actor.js";
import { acceptBody } from "./authorization-requests.js";
import { adminError } from "./errors.js";
import * as s from "./schemas.js";

const deviceAuthorization = {
  type: "object",
  properties: {
    id: { type: "string" },
    client_id: { type: "string" },
    application: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    scopes: { type: "array", items: { type: "string" }, description: "The scopes the application asked for." },
    status: { type: "string", enum: ["pending", "accepted", "rejected"] },
    expires_at: { type: "string", format: "date-time" },
  },
  required: ["id", "client_id", "application", "scopes", "status", "expires_at"],
} as const;

const userCodeParams = {
  type: "object",
  properties: {
    user_code: { type: "string", minLength: 1, maxLength: 40, description: "As the person typed it: any case, dash optional." },
  },
  required: ["user_code"],
} as const;

const tags = ["device-authorizations"];
const security = s.adminSecurity;
const rateLimited = {
  ...s.errorSchema,
  "x-response-description":
    "Too many unknown user codes from this address in the rate-limit window (`code` is `rate_limited`, with " +
    "`Retry-After`): APPGRANT_DEVICE_LOOKUP_FAILURES per APPGRANT_RATE_LIMIT_WINDOW.",
  headers: { "Retry-After": { type: "integer", description: "Seconds until the window ends." } },
} as const;

function view(found: DeviceAuthorizationWithApp) {
  return {
    id: found.id,
    client_id: found.application.clientId,
    application: { name: found.application.name },
    scopes: parseScopes(found.scopes),
    // The column is a plain string that the domain only ever sets to one of these.
    status: found.status as (typeof deviceAuthorization.properties.status.enum)[number],
    expires_at: found.expiresAt,
  };
}

export interface DeviceLookupLimit {
  counter: Counter;
  windowSeconds: number;
  /** Failed lookups per address and window; 0: unlimited. */
  failures: number;
}

export async function deviceAuthorizationRoutes(instance: FastifyInstance, limit: DeviceLookupLimit): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();
  const windowMs = limit.windowSeconds * 1000;
  const key = (request: FastifyRequest) => `device-lookup-fail:${limitAddress(request.ip)}`;

  /**
   * Runs a lookup by user code under the limit. Each lookup is counted before it runs,
   * by an atomic increment (in Redis with REDIS_URL: across processes), as a failure
   * until it finds its code: a burst of parallel guesses cannot all pass a limit that
   * each read before any had failed. Past the limit the caller is refused without a
   * lookup. Only an unknown (or expired, or malformed) code keeps its count; any other
   * answer (found, already answered, invalid body, unavailable) is refunded.
   */
  async function guarded<T>(request: FastifyRequest, reply: FastifyReply, lookup: () => Promise<T>): Promise<T | FastifyReply> {
    if (limit.failures <= 0) return lookup();
    const counted = await limit.counter.hit(key(request), windowMs);
    if (counted.count > limit.failures) return refuse(reply, counted.ttlMs);
    let unknown = false;
    try {
      return await lookup();
    } catch (error) {
      unknown = error instanceof DomainError && error.kind === "not_found";
      throw error;
    } finally {
      if (!unknown) await limit.counter.refund(key(request));
    }
  }
  function refuse(reply: FastifyReply, ttlMs: number) {
    const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
    reply.header("Retry-After", String(seconds));
    reply.server.metrics.rateLimited("device_lookup_failures_per_ip");
    reply.request.log.warn({ address: limitAddress(reply.request.ip) }, "device user code lookups limited");
    return adminError(reply, 429, "rate_limited", `too many unknown user codes; retry after ${seconds} seconds`);
  }

  app.get(
    "/device-authorizations/:user_code",
    {
      schema: {
        tags,
        security,
        operationId: "getDeviceAuthorization",
        summary: "Show a device authorization by its user code, for the verification page.",
        description:
          "`user_code` is what the person typed (any case, with or without the dash). 404 when no live device " +
          "authorization has it (unknown or expired); unknown codes are counted per caller address (see 429).",
        params: userCodeParams,
        response: {
          200: { ...deviceAuthorization, "x-response-description": "What the application asks for." },
          ...s.adminErrors(400, 401, 404, 503),
          429: rateLimited,
        },
      },
    },
    async (request, reply) => guarded(request, reply, async () => view(await getDeviceAuthorization(asAdmin(request), request.params.user_code))),
  );

  app.post(
    "/device-authorizations/:user_code/accept",
    {
      schema: {
        tags,
        security,
        operationId: "acceptDeviceAuthorization",
        summary: "Accept: install the application into the account; the device's next poll gets its tokens.",
        description:
          "Creates the installation for (application, account), or reuses the active one (widening its scopes). A " +
          "device authorization is answered once: a second answer is 409; an expired one is 404.",
        params: userCodeParams,
        body: acceptBody,
        response: {
          200: {
            ...deviceAuthorization,
            properties: { ...deviceAuthorization.properties, installation_id: { type: "string" } },
            required: [...deviceAuthorization.required, "installation_id"],
            "x-response-description": "The device authorization, accepted, and the installation its tokens belong to.",
          },
          ...s.adminErrors(400, 401, 404, 409, 415, 503),
          429: rateLimited,
        },
      },
    },
    async (request, reply) =>
      guarded(request, reply, async () => {
        const accepted = await acceptDeviceAuthorization(asAdmin(request), request.params.user_code, request.body);
        request.log.info(
          { deviceAuthorizationId: accepted.deviceAuthorization.id, installationId: accepted.installationId, installationCreated: accepted.created },
          "device authorization accepted",
        );
        return { ...view(accepted.deviceAuthorization), status: "accepted" as const, installation_id: accepted.installationId };
      }),
  );

  app.post(
    "/device-authorizations/:user_code/reject",
    {
      schema: {
        tags,
        security,
        operationId: "rejectDeviceAuthorization",
        summary: "Reject: the person declined; the device's next poll gets access_denied.",
        description: "A device authorization is answered once: a second answer is 409; an expired one is 404.",
        params: userCodeParams,
        response: {
          200: { ...deviceAuthorization, "x-response-description": "The device authorization, rejected." },
          ...s.adminErrors(400, 401, 404, 409, 503),
          429: rateLimited,
        },
      },
    },
    async (request, reply) =>
      guarded(request, reply, async () => {
        const rejected = await rejectDeviceAuthorization(asAdmin(request), request.params.user_code);
        request.log.info({ deviceAuthorizationId: rejected.id }, "device authorization rejected");
        return { ...view(rejected), status: "rejected" as const };
      }),
  );
}
