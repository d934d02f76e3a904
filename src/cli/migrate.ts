// `appgrant migrate` and `appgrant serve`.
import { loadConfig } from "../main/config.js";
import type { Command } from "./command.js";
import { batchOptions, batchSize } from "./args.js";
import { describeDatabase, migrate, withDomain } from "./context.js";
import { print, printJson } from "./output.js";

export const migrateCommand: Command = {
  usage: "",
  summary: "apply pending database migrations (every other command does this too)",
  async run({ json }) {
    const config = loadConfig();
    const applied = await migrate(config);
    const database = describeDatabase(config.database);
    if (json) return printJson({ database, applied });
    if (applied.length === 0) return print(`${database}: up to date, no pending migrations.`);
    print(`${database}: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join("\n")}`);
  },
};

export const purgeCommand: Command = {
  usage: "[--batch-size N]",
  summary:
    "delete expired codes, authorization requests, tokens past their refresh expiry and events past their retention, and erase expired codes from webhook deliveries, in batches",
  options: batchOptions,
  async run({ values, json }) {
    const batch = batchSize(values);
    const { purgeExpired } = await import("../domain/purge.js");
    const removed = await withDomain((ctx) => purgeExpired(ctx, batch));
    if (json)
      return printJson({
        codes: removed.codes,
        authorization_requests: removed.authorizationRequests,
        tokens: removed.tokens,
        client_assertions: removed.clientAssertions,
        device_authorizations: removed.deviceAuthorizations,
        webhook_codes: removed.webhookCodes,
        events: removed.events,
        webhook_deliveries: removed.webhookDeliveries,
      });
    print(
      `Purged ${removed.codes} expired code(s), ${removed.authorizationRequests} authorization request(s), ${removed.tokens} token(s), ${removed.clientAssertions} used client assertion(s), ${removed.deviceAuthorizations} device authorization(s), ${removed.events} event(s), ${removed.webhookDeliveries} ended webhook deliver(ies); erased ${removed.webhookCodes} expired code(s) from pending webhook deliveries.`,
    );
  },
};

export const serveCommand: Command = {
  usage: "",
  summary: "start the HTTP server (same as npm start)",
  async run() {
    // Loaded on demand: the other commands need neither Fastify nor its plugins.
    const { serve } = await import("../main/server.js");
    await serve();
  },
};
