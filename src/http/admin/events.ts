// The audit log, read-only: every recorded event, newest first (src/domain/audit.ts).
import type { FastifyInstance } from "fastify";
import { eventJson, getEvent, listEvents } from "../../domain/audit.js";
import * as s from "./schemas.js";

const tags = ["events"];
const security = s.adminSecurity;

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export async function eventRoutes(instance: FastifyInstance): Promise<void> {
  const app = instance.withTypeProvider<s.AdminTypeProvider>();
  const ctx = app.domain;

  app.get(
    "/events",
    {
      schema: {
        tags,
        security,
        operationId: "listEvents",
        summary: "List events (the audit log), newest first, filtered and with cursor pagination.",
        description:
          "Every change made through the admin API, the CLI or the OAuth endpoints that is worth auditing, with who made it " +
          "(actor), the request id and the caller's address. Filters combine (AND); `type` may be repeated (OR). " +
          "Events older than APPGRANT_EVENT_RETENTION_DAYS are removed by the purge.",
        querystring: s.eventQuery,
        response: {
          200: { ...s.eventList, "x-response-description": "One page of events, newest first; `next_cursor` is null on the last page." },
          ...s.adminErrors(400, 401, 503),
        },
      },
    },
    async (request) => {
      const { limit, cursor, type, application_id, installation_id, since, until } = request.query;
      const page = await listEvents(
        ctx,
        { types: type, applicationId: application_id, installationId: installation_id, since: date(since), until: date(until) },
        { limit, cursor },
      );
      return { items: page.items.map(eventJson), next_cursor: page.nextCursor };
    },
  );

  app.get(
    "/events/:id",
    {
      schema: {
        tags,
        security,
        operationId: "getEvent",
        summary: "Show one event.",
        description: "The event with this id, as the list returns it.",
        params: s.idParams,
        response: { 200: { ...s.event, "x-response-description": "The event." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request) => eventJson(await getEvent(ctx, request.params.id)),
  );
}
