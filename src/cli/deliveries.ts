// `appgrant deliveries …`: webhook deliveries (the outbox), straight through src/domain.
// A redelivery queued here is sent by a running server within its poll interval.
import { findApplication } from "../domain/applications.js";
import { deliveryDetailJson, deliveryJson, getDelivery, listDeliveries, redeliver } from "../domain/deliveries.js";
import { notFound } from "../domain/errors.js";
import { pageOptions, pageRequest } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { type Field, print, printJson, record, table } from "./output.js";

function deliveryFields(json: ReturnType<typeof deliveryJson>): Field[] {
  return Object.entries(json).map(([key, value]) => [key, value] as Field);
}

export const deliveryCommands: CommandTable = {
  "deliveries list": {
    usage: "<application id or client_id> [--limit N] [--cursor C]",
    summary: "list an application's webhook deliveries, newest first",
    positionals: ["application"],
    options: { ...pageOptions },
    async run({ positionals, values, json }) {
      const page = await withDomain(async (ctx) => {
        const application = await findApplication(ctx, positionals[0]!);
        if (!application) throw notFound("application");
        return listDeliveries(ctx, application.id, pageRequest(values));
      });
      if (json) return printJson({ items: page.items.map(deliveryJson), next_cursor: page.nextCursor });
      if (page.items.length === 0) return print("No deliveries.");
      const rows = page.items.map((d) => [d.id, d.type, d.status, d.attempts, d.lastStatus ?? d.lastError ?? "", d.createdAt]);
      const more = page.nextCursor === null ? "" : `\n\nMore: appgrant deliveries list ${positionals[0]} --cursor ${page.nextCursor}`;
      print(table(["ID", "TYPE", "STATUS", "ATTEMPTS", "LAST", "CREATED_AT"], rows) + more);
    },
  },

  "deliveries show": {
    usage: "<id>",
    summary: "show one webhook delivery, its last attempt and the request it sends (its code redacted)",
    positionals: ["id"],
    async run({ positionals, json }) {
      // The admin API's view (GET /admin/v1/deliveries/{id}), request included.
      const { request, ...delivery } = deliveryDetailJson(await withDomain((ctx) => getDelivery(ctx, positionals[0]!)));
      if (json) return printJson({ ...delivery, request });
      print(record(deliveryFields(delivery)));
      const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`);
      print(`\nRequest (the signature is not shown: it covered the body as sent, code included):\n${headers.join("\n")}\n`);
      print(JSON.stringify(request.body, null, 2));
    },
  },

  "deliveries redeliver": {
    usage: "<id>",
    summary: "send a webhook delivery again (same webhook-id), at the server's next poll; refused while an attempt is under way",
    positionals: ["id"],
    async run({ positionals, json }) {
      const { delivery: queued, held } = await withDomain((ctx) => redeliver(ctx, positionals[0]!));
      const delivery = deliveryJson(queued);
      if (json) return printJson({ ...delivery, held });
      print(record(deliveryFields(delivery)));
      if (held === "webhooks_paused") {
        print(
          `\nQueued, but held: the application's webhooks are paused. It is sent once they are resumed ` +
            `(PATCH /admin/v1/applications/${queued.applicationId} {"webhooks_paused": false}).`,
        );
      } else if (held === "installation_suspended") {
        print(
          `\nQueued, but held: its installation is suspended. It is sent once it is unsuspended (appgrant installs unsuspend ${queued.installationId}).`,
        );
      } else {
        print("\nQueued: a running server sends it within a second or two.");
      }
    },
  },
};
