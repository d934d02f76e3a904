// `appgrant events …`: the audit log, newest first, straight through src/domain/audit.ts.
import { eventJson, getEvent, listEvents } from "../domain/audit.js";
import { optionalString, pageOptions, pageRequest, splitList, timestamp } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { print, printJson, record, table } from "./output.js";

type EventJson = ReturnType<typeof eventJson>;

function actor(event: EventJson): string {
  return event.actor.id === null ? event.actor.type : `${event.actor.type} ${event.actor.id}`;
}

export const eventCommands: CommandTable = {
  "events list": {
    usage: "[--type T]… [--app ID] [--installation ID] [--since ISO] [--until ISO] [--limit N] [--cursor C]",
    summary: "list events (the audit log), newest first",
    options: {
      type: { type: "string", multiple: true },
      app: { type: "string" },
      installation: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      ...pageOptions,
    },
    async run({ values, json }) {
      const types = splitList(values, "type");
      const page = await withDomain((ctx) =>
        listEvents(
          ctx,
          {
            types,
            applicationId: optionalString(values, "app"),
            installationId: optionalString(values, "installation"),
            since: timestamp(values, "since"),
            until: timestamp(values, "until"),
          },
          pageRequest(values),
        ),
      );
      const items = page.items.map(eventJson);
      if (json) return printJson({ items, next_cursor: page.nextCursor });
      if (items.length === 0) return print("No events.");
      const rows = items.map((event) => [event.id, event.occurred_at, event.type, actor(event), event.application_id, event.installation_id]);
      const more = page.nextCursor === null ? "" : `\n\nMore: appgrant events list --cursor ${page.nextCursor}`;
      print(table(["ID", "OCCURRED_AT", "TYPE", "ACTOR", "APPLICATION", "INSTALLATION"], rows) + more);
    },
  },

  "events show": {
    usage: "<id>",
    summary: "show one event with its data",
    positionals: ["id"],
    async run({ positionals, json }) {
      const event = eventJson(await withDomain((ctx) => getEvent(ctx, positionals[0]!)));
      if (json) return printJson(event);
      print(
        record([
          ["id", event.id],
          ["type", event.type],
          ["occurred_at", event.occurred_at],
          ["actor", actor(event)],
          ["application_id", event.application_id],
          ["installation_id", event.installation_id],
          ["request_id", event.request_id],
          ["source_ip", event.source_ip],
          ["data", JSON.stringify(event.data)],
        ]),
      );
    },
  },
};
