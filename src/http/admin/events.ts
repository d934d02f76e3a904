// The audit log, read-only: every recorded event, newest first (src/domain/audit.ts).
import type { FastifyInstance } from "fastify";
import { eventJson, getEvent, listEvents } from "../../domain/audit.js";
import * as s from "./schemas.js";

interface EventQuery {
  limit: number;
  cursor?: string;
  type?: string[];
  application_id?: string;
  installation_id?: string;
  since?: string;
  until?: string;
}

/** OpenAPI documentation of a route (summary, description, tags), read by an OpenAPI generator, ignored by Fastify. */
const docs = (text: { summary: string; description: string }): object => ({ tags: ["events"], ...text });

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export async function eventRoutes(app: FastifyInstance): Promise<void> {
  const ctx = app.domain;

  app.get<{ Querystring: EventQuery }>(
    "/events",
    {
      schema: {
        ...docs({
          summary: "List events (the audit log), newest first, filtered and with cursor pagination.",
          description:
            "Every change made through the admin API, the CLI or the OAuth endpoints that is worth auditing, with who made it " +
            "(actor), the request id and the caller's address. Filters combine (AND); `type` may be repeated (OR). " +
            "Events older than APPGRANT_EVENT_RETENTION_DAYS are removed by the purge.",
        }),
        querystring: s.eventQuery,
        response: { 200: s.eventList, ...s.readErrorResponses },
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

  app.get<{ Params: { id: string } }>(
    "/events/:id",
    {
      schema: {
        ...docs({ summary: "Show one event.", description: "The event with this id, as the list returns it." }),
        params: s.idParams,
        response: { 200: s.event, ...s.readErrorResponses },
      },
    },
    async (request) => eventJson(await getEvent(ctx, request.params.id)),
  );
}
