// `appgrant keys …`: what a server-key rotation needs from the operator.
import { batchOptions, batchSize } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { notice, print, printJson } from "./output.js";

export const keyCommands: CommandTable = {
  "keys reencrypt": {
    usage: "[--batch-size N]",
    summary: "re-encrypt stored webhook secrets under the first server key (after a key rotation), in batches; safe to repeat",
    options: batchOptions,
    async run({ values, json }) {
      const batch = batchSize(values);
      const { reencryptWebhookSecrets } = await import("../domain/reencrypt-webhook-secrets.js");
      const result = await withDomain((ctx) => reencryptWebhookSecrets(ctx, batch));
      if (json) {
        printJson({
          scanned: result.scanned,
          reencrypted: result.reencrypted,
          already_current: result.alreadyCurrent,
          changed_meanwhile: result.changedMeanwhile,
          unreadable: result.unreadable,
        });
      } else {
        print(
          `Webhook secrets: ${result.scanned} scanned, ${result.reencrypted} re-encrypted under the first key, ` +
            `${result.alreadyCurrent} already under it, ${result.changedMeanwhile} changed meanwhile (left as they are), ` +
            `${result.unreadable.length} unreadable.`,
        );
      }
      if (result.unreadable.length === 0) return 0;
      notice(
        `appgrant: no configured server key opens the webhook secret of ${result.unreadable.length} application(s): ` +
          `${result.unreadable.join(", ")}. Put the key they were sealed with back in the list and run this again, ` +
          "or give them new secrets (appgrant apps rotate-webhook-secret <id>).",
      );
      return 1;
    },
  },
};
