// Webhook deliveries: an application's, one, and redelivering one.
import type { FastifyInstance } from "fastify";
import { deliveryDetailJson, deliveryJson, getDelivery, listDeliveries, redeliver } from "../../domain/deliveries.js";
import * as s from "./schemas.js";

const nullableTimestamp = { type: ["string", "null"], format: "date-time" } as const;

export const delivery = {
  type: "object",
  properties: {
    id: { type: "string" },
    event_id: { type: "string" },
    application_id: { type: "string" },
    installation_id: { type: ["string", "null"] },
    type: { type: "string" },
    status: { type: "string", enum: ["pending", "delivered", "failed"] },
    attempts: { type: "integer" },
    next_attempt_at: nullableTimestamp,
    last_attempt_at: nullableTimestamp,
    last_status: { type: ["integer", "null"] },
    last_error: { type: ["string", "null"] },
    last_duration_ms: { type: ["integer", "null"] },
    last_response: { type: ["string", "null"] },
    created_at: { type: "string", format: "date-time" },
    delivered_at: nullableTimestamp,
  },
  required: [
    "id",
    "event_id",
    "application_id",
    "installation_id",
    "type",
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status",
    "last_error",
    "last_duration_ms",
    "last_response",
    "created_at",
    "delivered_at",
  ],
} as const;

export const deliveryList = {
  type: "object",
  properties: { items: { type: "array", items: delivery }, next_cursor: { type: ["string", "null"] } },
  required: ["items", "next_cursor"],
} as const;

const tags = ["deliveries"];
const security = s.adminSecurity;

const deliveryDetail = {
  ...delivery,
  properties: {
    ...delivery.properties,
    request: {
      type: "object",
      description:
        "The request each attempt sends: the headers of the last attempt but its signature, and the body (a code in it " +
        "is always shown redacted, `agc_…`).",
      properties: {
        headers: {
          type: "object",
          description:
            "`webhook-id`, `webhook-timestamp` (the last attempt's, unix seconds; absent before the first attempt), " +
            "`content-type` and `user-agent`. Not `webhook-signature`: it is not stored, and it covered the body as " +
            "sent, code included, so it could not be checked against the redacted body shown here.",
          additionalProperties: { type: "string" },
        },
        body: { type: "object", additionalProperties: true },
      },
      required: ["headers", "body"],
    },
  },
  required: [...delivery.required, "request"],
} as const;

const redelivery = {
  ...delivery,
  properties: {
    ...delivery.properties,
    held: {
      type: ["string", "null"],
      enum: ["webhooks_paused", "installation_suspended", null],
      description:
        "Null: the delivery is sent now. Otherwise it is queued but held, pending, until released: `webhooks_paused`, " +
        'until the application\'s webhooks are resumed (PATCH /admin/v1/applications/{id} {"webhooks_paused": false}); ' +
        "`installation_suspended`, until its installation is unsuspended.",
    },
  },
  required: [...delivery.required, "held"],
} as const;

export async function deliveryRoutes(instance: FastifyInstance): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();
  const ctx = app.domain;

  app.get(
    "/applications/:id/deliveries",
    {
      schema: {
        tags,
        security,
        operationId: "listDeliveries",
        summary: "List an application's webhook deliveries, newest first, with cursor pagination.",
        description: "Each delivery with its status and its last attempt: HTTP status, error code, duration, the first 4 KiB of the answer.",
        params: s.idParams,
        querystring: s.listQuery,
        response: {
          200: { ...deliveryList, "x-response-description": "One page of deliveries; `next_cursor` is null on the last page." },
          ...s.adminErrors(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const page = await listDeliveries(ctx, request.params.id, request.query);
      return { items: page.items.map(deliveryJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    "/deliveries/:id",
    {
      schema: {
        tags,
        security,
        operationId: "getDelivery",
        summary: "Show a webhook delivery and the request it sends.",
        description:
          "`id` is the delivery's `webhook-id` header. The request is shown with the last attempt's headers " +
          "(`webhook-timestamp` included) but not its signature: the signature covers the body as sent, code included, " +
          "and the body is shown with its code redacted, so a signature could not be verified against it.",
        params: s.idParams,
        response: { 200: { ...deliveryDetail, "x-response-description": "The delivery." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request) => deliveryDetailJson(await getDelivery(ctx, request.params.id)),
  );

  app.post(
    "/deliveries/:id/redeliver",
    {
      schema: {
        tags,
        security,
        operationId: "redeliver",
        summary: "Send a webhook delivery again, now.",
        description:
          "Same webhook-id and body; its code only while still valid. If it fails, it is retried as a new delivery " +
          "(the give-up age counts from now). A delivery being attempted at this moment is refused with 409, so that " +
          "two sends never overlap: its outcome is recorded within the attempt's timeout; redeliver it then if needed. " +
          "A delivery of an application whose webhooks are paused, or of a suspended installation, is queued but held " +
          "(`held`): it stays pending until they are resumed or the installation is unsuspended.",
        params: s.idParams,
        response: {
          200: { ...redelivery, "x-response-description": "The delivery, pending: due now, or held until released (`held`)." },
          ...s.adminErrors(400, 401, 404, 409, 503),
        },
      },
    },
    async (request) => {
      const { delivery: queued, held } = await redeliver(ctx, request.params.id);
      request.log.info({ deliveryId: queued.id, held }, "webhook delivery queued again");
      return { ...deliveryJson(queued), held };
    },
  );
}
