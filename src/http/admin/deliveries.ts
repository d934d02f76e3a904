// Webhook deliveries: an application's, one, and redelivering one.
import type { FastifyInstance } from "fastify";
import { deliveryJson, getDelivery, listDeliveries, redeliver } from "../../domain/deliveries.js";
import * as s from "./schemas.js";

type IdParams = { id: string };

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

const TAGS = ["deliveries"];

// Route schemas document the routes (summary, description, tags: openapi.yaml is generated from them).
const listSchema = {
  summary: "List an application's webhook deliveries, oldest first.",
  description: "Each delivery with its status and its last attempt: HTTP status, error code, duration, the first 4 KiB of the answer.",
  tags: TAGS,
  params: s.idParams,
  querystring: s.listQuery,
  response: { 200: deliveryList, ...s.errorResponses },
};

const showSchema = {
  summary: "Show a webhook delivery.",
  description: "`id` is the delivery's `webhook-id` header.",
  tags: TAGS,
  params: s.idParams,
  response: { 200: delivery, ...s.errorResponses },
};

const redeliverSchema = {
  summary: "Send a webhook delivery again, now.",
  description: "Same webhook-id and body; its code only while still valid. Answers the delivery, pending.",
  tags: TAGS,
  params: s.idParams,
  response: { 200: delivery, ...s.errorResponses },
};

export async function deliveryRoutes(app: FastifyInstance): Promise<void> {
  const ctx = app.domain;

  app.get<{ Params: IdParams; Querystring: { limit: number; cursor?: string } }>(
    "/applications/:id/deliveries",
    { schema: listSchema },
    async (request) => {
      const page = await listDeliveries(ctx, request.params.id, request.query);
      return { items: page.items.map(deliveryJson), next_cursor: page.nextCursor };
    },
  );

  app.get<{ Params: IdParams }>("/deliveries/:id", { schema: showSchema }, async (request) =>
    deliveryJson(await getDelivery(ctx, request.params.id)),
  );

  app.post<{ Params: IdParams }>("/deliveries/:id/redeliver", { schema: redeliverSchema }, async (request) => {
    const queued = await redeliver(ctx, request.params.id);
    request.log.info({ deliveryId: queued.id }, "webhook delivery queued again");
    return deliveryJson(queued);
  });
}
