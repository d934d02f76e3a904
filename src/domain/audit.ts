// The audit log read back: events newest first, filtered, with cursor pagination
// (the cursor is the id of the last event of the previous page; ids are UUIDv7, so
// "older" is "smaller id"). And the one event written outside any change: a client
// locked out by the failed-authentication limit.
import type { Event } from "../generated/prisma/client.js";
import type { DomainContext } from "./context.js";
import { invalid, notFound } from "./errors.js";
import { EVENT_TYPES, type EventType, recordEvent } from "./events.js";
import type { Page, PageRequest } from "./pagination.js";

export interface EventFilter {
  types?: readonly string[] | undefined;
  applicationId?: string | undefined;
  installationId?: string | undefined;
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkFilter(filter: EventFilter, page: PageRequest): void {
  const unknown = (filter.types ?? []).filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
  if (unknown.length > 0) throw invalid(`type: unknown event type "${unknown[0]}" (one of ${EVENT_TYPES.join(", ")})`);
  if (page.cursor !== undefined && !UUID.test(page.cursor)) throw invalid("cursor: not a cursor this API returned");
  for (const [name, date] of [
    ["since", filter.since],
    ["until", filter.until],
  ] as const) {
    if (date !== undefined && Number.isNaN(date.getTime())) throw invalid(`${name}: not a date-time`);
  }
  if (filter.since && filter.until && filter.since >= filter.until) throw invalid("since: must be before until");
}

/** Events matching `filter`, newest first. */
export async function listEvents(ctx: DomainContext, filter: EventFilter, page: PageRequest): Promise<Page<Event>> {
  checkFilter(filter, page);
  const occurredAt = {
    ...(filter.since ? { gte: filter.since } : {}),
    ...(filter.until ? { lt: filter.until } : {}),
  };
  const rows = await ctx.db.event.findMany({
    where: {
      ...(filter.types && filter.types.length > 0 ? { type: { in: [...filter.types] } } : {}),
      ...(filter.applicationId ? { applicationId: filter.applicationId } : {}),
      ...(filter.installationId ? { installationId: filter.installationId } : {}),
      ...(filter.since || filter.until ? { occurredAt } : {}),
      ...(page.cursor ? { id: { lt: page.cursor } } : {}),
    },
    orderBy: { id: "desc" },
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: rows.length > page.limit ? items[items.length - 1]!.id : null };
}

export async function getEvent(ctx: DomainContext, id: string): Promise<Event> {
  const event = await ctx.db.event.findUnique({ where: { id } });
  if (!event) throw notFound("event");
  return event;
}

/** An event as the admin API and `appgrant events --json` show it. */
export function eventJson(event: Event) {
  return {
    id: event.id,
    type: event.type as EventType,
    occurred_at: event.occurredAt,
    actor: { type: event.actorType, id: event.actorId },
    application_id: event.applicationId,
    installation_id: event.installationId,
    request_id: event.requestId,
    source_ip: event.sourceIp,
    data: JSON.parse(event.data) as Record<string, unknown>,
  };
}

/**
 * client.authentication_locked: the failed-authentication limit refused a client from
 * an address for the first time in a window. Recorded only for a client that exists
 * (a made-up client_id locks nothing worth auditing, and must not fill the log).
 * `ctx` acts as the system, with the refused request's id and address.
 */
export async function recordAuthenticationLocked(
  ctx: DomainContext,
  input: { clientId: string; failures: number; windowSeconds: number; retryAfterSeconds: number },
): Promise<boolean> {
  const application = await ctx.db.application.findUnique({ where: { clientId: input.clientId }, select: { id: true } });
  if (!application) return false;
  await ctx.transaction((tx) =>
    recordEvent(ctx, tx, {
      type: "client.authentication_locked",
      applicationId: application.id,
      data: {
        client_id: input.clientId,
        failures: input.failures,
        window_seconds: input.windowSeconds,
        retry_after_seconds: input.retryAfterSeconds,
      },
    }),
  );
  return true;
}
