// `appgrant device …`: answer a device authorization (RFC 8628) by its user code, as the
// platform's verification page does through the admin API, straight through src/domain.
import { acceptDeviceAuthorization, type DeviceAuthorizationWithApp, rejectDeviceAuthorization } from "../domain/device-authorizations.js";
import { parseScopes } from "../shared/scopes.js";
import { requiredString, scopeList, scopeOptions } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { type Field, print, printJson, record } from "./output.js";

function deviceFields(found: DeviceAuthorizationWithApp, status: string): Field[] {
  return [
    ["id", found.id],
    ["client_id", found.application.clientId],
    ["application", found.application.name],
    ["requested_scopes", parseScopes(found.scopes).join(" ")],
    ["status", status],
  ];
}

export const deviceCommands: CommandTable = {
  "device accept": {
    usage: '<user_code> --account A [--scope S] [--scopes "a b"] (default: the scopes the application asked for)',
    summary: "accept a device authorization: install into the account; the device's next poll gets its tokens",
    options: { account: { type: "string" }, ...scopeOptions },
    positionals: ["user_code"],
    async run({ positionals, values, json }) {
      const account = requiredString(values, "account");
      const scopes = scopeList(values);
      const accepted = await withDomain((ctx) =>
        acceptDeviceAuthorization(ctx, positionals[0]!, { account, scopes: scopes.length > 0 ? scopes : undefined }),
      );
      const found = accepted.deviceAuthorization;
      if (json) {
        return printJson({
          id: found.id,
          client_id: found.application.clientId,
          status: "accepted",
          installation_id: accepted.installationId,
          account,
          scopes: accepted.scopes,
        });
      }
      print(
        record([
          ...deviceFields(found, "accepted"),
          ["account", account],
          ["granted_scopes", accepted.scopes.join(" ")],
          ["installation_id", accepted.installationId],
          ["installation_created", accepted.created ? "yes" : "no (reused the active one)"],
        ]),
      );
    },
  },

  "device reject": {
    usage: "<user_code>",
    summary: "reject a device authorization; the device's next poll gets access_denied",
    positionals: ["user_code"],
    async run({ positionals, json }) {
      const rejected = await withDomain((ctx) => rejectDeviceAuthorization(ctx, positionals[0]!));
      if (json) return printJson({ id: rejected.id, client_id: rejected.application.clientId, status: "rejected" });
      print(record(deviceFields(rejected, "rejected")));
    },
  },
};
