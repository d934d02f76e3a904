// `appgrant installs …`: installations and their authorization codes, straight through src/domain.
import { installationJson } from "../domain/views.js";
import { issuerWarning } from "../main/config.js";
import { findApplication } from "../domain/applications.js";
import {
  createInstallation,
  getInstallation,
  INSTALLATION_STATUSES,
  type InstallationStatus,
  type InstallationWithApp,
  listInstallations,
  pendingCode,
  reissueCode,
  uninstall,
} from "../domain/installations.js";
import { suspendInstallation, unsuspendInstallation } from "../domain/installation-suspension.js";
import { optionalString, pageOptions, pageRequest, requiredString, scopeList, scopeOptions, UsageError } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { type Field, notice, print, printJson, record, shownOnce, table } from "./output.js";

function installationFields(installation: InstallationWithApp): Field[] {
  const json = installationJson(installation);
  return [
    ["id", json.id],
    ["client_id", json.client_id],
    ["account", json.account],
    ["scopes", json.scopes.join(" ")],
    ["status", json.status],
    ["created_at", json.created_at],
    ["uninstalled_at", json.uninstalled_at],
    ["suspended_at", json.suspended_at],
    ["suspension_reason", json.suspension_reason],
    ["pending_scopes", json.pending_scopes.join(" ")],
  ];
}

function statusFilter(value: string | undefined): InstallationStatus | undefined {
  if (value === undefined) return undefined;
  if (!(INSTALLATION_STATUSES as readonly string[]).includes(value)) {
    throw new UsageError(`--status must be one of ${INSTALLATION_STATUSES.join(", ")}, got "${value}"`);
  }
  return value as InstallationStatus;
}

export const installCommands: CommandTable = {
  "installs create": {
    usage: '--client-id C --account A [--scope S] [--scope S2 | --scopes "a b"] (default: all the application\'s scopes)',
    summary: "install an application into an account; prints its code once",
    options: { "client-id": { type: "string" }, account: { type: "string" }, ...scopeOptions },
    async run({ values, json }) {
      const clientId = requiredString(values, "client-id");
      const account = requiredString(values, "account");
      const scopes = scopeList(values);
      const { created, config } = await withDomain(async (ctx, config) => ({
        created: await createInstallation(ctx, { clientId, account, scopes: scopes.length > 0 ? scopes : undefined }),
        config,
      }));
      if (json) {
        printJson({
          ...installationJson(created.installation),
          code: created.code,
          code_expires_at: created.authorizationCode.expiresAt,
          ...(created.redirectTo !== null ? { redirect_to: created.redirectTo } : {}),
        });
      } else {
        const fields: Field[] = [
          ...installationFields(created.installation),
          ["code", created.code],
          ["code_expires_at", created.authorizationCode.expiresAt],
        ];
        if (created.redirectTo !== null) fields.push(["redirect_to", created.redirectTo]);
        print(record(fields));
      }
      shownOnce("code", json);
      // The link's iss must be the server's: say so when it may not be.
      const derivedIssuer = created.redirectTo !== null ? issuerWarning(config) : undefined;
      if (derivedIssuer !== undefined) notice(`appgrant: warning: ${derivedIssuer}`);
    },
  },

  "installs list": {
    usage: "[--client-id C (or the application's id)] [--account A] [--status active|suspended|uninstalled] [--limit N] [--cursor C]",
    summary: "list installations, oldest first",
    options: { "client-id": { type: "string" }, account: { type: "string" }, status: { type: "string" }, ...pageOptions },
    async run({ values, json }) {
      const reference = optionalString(values, "client-id");
      const filter = { account: optionalString(values, "account"), status: statusFilter(optionalString(values, "status")) };
      const page = await withDomain(async (ctx) => {
        // An unknown reference filters by itself as a client_id: it lists nothing, as before.
        const clientId = reference === undefined ? undefined : ((await findApplication(ctx, reference))?.clientId ?? reference);
        return listInstallations(ctx, { ...filter, clientId }, pageRequest(values));
      });
      if (json) return printJson({ items: page.items.map(installationJson), next_cursor: page.nextCursor });
      if (page.items.length === 0) return print("No installations.");
      const rows = page.items.map((i) => [i.id, i.application.clientId, i.account, i.status, i.scopes, i.createdAt]);
      const more = page.nextCursor === null ? "" : `\n\nMore: appgrant installs list --cursor ${page.nextCursor}`;
      print(table(["ID", "CLIENT_ID", "ACCOUNT", "STATUS", "SCOPES", "CREATED_AT"], rows) + more);
    },
  },

  "installs show": {
    usage: "<id>",
    summary: "show one installation and whether its code is still pending",
    positionals: ["id"],
    async run({ positionals, json }) {
      const { installation, pending } = await withDomain(async (ctx) => {
        const installation = await getInstallation(ctx, positionals[0]!);
        return { installation, pending: installation.status !== "uninstalled" ? await pendingCode(ctx, installation.id) : null };
      });
      if (json) return printJson({ ...installationJson(installation), ...(pending ? { code_expires_at: pending.expiresAt } : {}) });
      const codeState = pending ? pending.expiresAt : "none pending (exchanged, expired or revoked)";
      print(record([...installationFields(installation), ["code_expires_at", codeState]]));
    },
  },

  "installs uninstall": {
    usage: "<id>",
    summary: "uninstall; revokes every code and token of the installation",
    positionals: ["id"],
    async run({ positionals, json }) {
      const { installation, changed } = await withDomain((ctx) => uninstall(ctx, positionals[0]!));
      if (json) return printJson(installationJson(installation));
      print(record(installationFields(installation)));
      print(changed ? "\nUninstalled: every code and token of this installation is revoked." : "\nAlready uninstalled: nothing changed.");
    },
  },

  "installs reissue-code": {
    usage: "<id>",
    summary: "issue a fresh code for an active installation (earlier unexchanged codes are revoked)",
    positionals: ["id"],
    async run({ positionals, json }) {
      const issued = await withDomain((ctx) => reissueCode(ctx, positionals[0]!));
      const shape = { ...installationJson(issued.installation), code: issued.code, code_expires_at: issued.authorizationCode.expiresAt };
      if (json) printJson(shape);
      else print(record([...installationFields(issued.installation), ["code", shape.code], ["code_expires_at", shape.code_expires_at]]));
      shownOnce("code", json);
    },
  },

  "installs suspend": {
    usage: "<id> [--reason TEXT]",
    summary: "suspend: no token issued or active, webhooks held, nothing deleted (undo: installs unsuspend)",
    positionals: ["id"],
    options: { reason: { type: "string" } },
    async run({ positionals, values, json }) {
      const reason = optionalString(values, "reason");
      const { installation, changed } = await withDomain((ctx) => suspendInstallation(ctx, positionals[0]!, reason));
      if (json) return printJson(installationJson(installation));
      print(record(installationFields(installation)));
      print(
        changed ? "\nSuspended: its tokens are inactive and its webhooks held until it is unsuspended." : "\nAlready suspended: nothing changed.",
      );
    },
  },

  "installs unsuspend": {
    usage: "<id>",
    summary: "unsuspend: unexpired, unrevoked tokens work again; held webhooks are sent",
    positionals: ["id"],
    async run({ positionals, json }) {
      const { installation, changed } = await withDomain((ctx) => unsuspendInstallation(ctx, positionals[0]!));
      if (json) return printJson(installationJson(installation));
      print(record(installationFields(installation)));
      print(changed ? "\nUnsuspended: its tokens work again and its held webhooks are being sent." : "\nNot suspended: nothing changed.");
    },
  },
};
