// `appgrant apps …`: applications, their client secrets and keys, straight through src/domain.
import { readFileSync } from "node:fs";
import { deleteKey, generateKey, listKeys, registerKey } from "../domain/application-keys.js";
import type { DomainContext } from "../domain/context.js";
import { applicationJson, applicationKeyJson, secretJson } from "../domain/views.js";
import {
  addSecret,
  createApplication,
  deleteApplication,
  deleteSecret,
  findApplication,
  LastSecretError,
  listApplications,
  listSecrets,
  rotateWebhookSecret,
  updateApplication,
} from "../domain/applications.js";
import { conflict, invalid, notFound } from "../domain/errors.js";
import type { Application, ApplicationKey } from "../generated/prisma/client.js";
import { optionalString, pageOptions, pageRequest, repeated, requiredString, scopeList, scopeOptions, timestamp, UsageError } from "./args.js";
import type { CommandTable } from "./command.js";
import { withDomain } from "./context.js";
import { type Field, print, printJson, record, shownOnce, table } from "./output.js";

function applicationFields(application: Application): Field[] {
  const json = applicationJson(application);
  return [
    ["id", json.id],
    ["client_id", json.client_id],
    ["name", json.name],
    ["client_type", json.client_type],
    ["redirect_uris", json.redirect_uris],
    ["scopes", json.scopes.join(" ")],
    ["grant_types", json.grant_types.join(" ")],
    ["webhook_url", json.webhook_url],
    ["created_at", json.created_at],
    ["updated_at", json.updated_at],
  ];
}

/** The application an operator names by its id or its client_id. */
async function resolveApplication(ctx: DomainContext, reference: string): Promise<Application> {
  const application = await findApplication(ctx, reference);
  if (!application) throw notFound("application");
  return application;
}

/** The JWK in `path` ("-": standard input), read before the database is opened. */
function readJwkFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (error) {
    throw invalid(`--jwk-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw invalid(`--jwk-file: ${path} is not JSON`);
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw invalid(`--jwk-file: ${path} does not hold a JSON object (a JWK)`);
  if (Array.isArray((jwk as { keys?: unknown }).keys)) throw invalid(`--jwk-file: ${path} holds a JWK Set; give one public JWK`);
  return jwk as Record<string, unknown>;
}

function keyFields(key: ApplicationKey): Field[] {
  const json = applicationKeyJson(key);
  return [
    ["id", json.id],
    ["kid", json.kid],
    ["alg", json.alg],
    ["created_at", json.created_at],
    ["public_jwk", JSON.stringify(json.public_jwk)],
  ];
}

function moreHint(command: string, nextCursor: string | null): string {
  return nextCursor === null ? "" : `\n\nMore: appgrant ${command} --cursor ${nextCursor}`;
}

export const appCommands: CommandTable = {
  "apps create": {
    usage: '--name N --redirect-uri U [--redirect-uri U2] --scope S [--scope S2 | --scopes "a b"] [--webhook-url W] [--public] [--grant-type G ...]',
    summary: "register an application; prints its client secret once",
    options: {
      name: { type: "string" },
      "redirect-uri": { type: "string", multiple: true },
      ...scopeOptions,
      "webhook-url": { type: "string" },
      public: { type: "boolean" },
      "grant-type": { type: "string", multiple: true },
    },
    async run({ values, json }) {
      const name = requiredString(values, "name");
      const redirectUris = repeated(values, "redirect-uri");
      if (redirectUris.length === 0) throw new UsageError("--redirect-uri is required (repeat it for several)");
      const scopes = scopeList(values);
      if (scopes.length === 0) throw new UsageError("--scope (or --scopes) is required");
      const { application, clientSecret, webhookSecret } = await withDomain((ctx) =>
        createApplication(ctx, {
          name,
          redirectUris,
          scopes,
          webhookUrl: optionalString(values, "webhook-url") ?? null,
          clientType: values.public === true ? "public" : "confidential",
          ...(repeated(values, "grant-type").length > 0 ? { grantTypes: repeated(values, "grant-type") } : {}),
        }),
      );
      if (json) printJson({ ...applicationJson(application), client_secret: clientSecret, webhook_secret: webhookSecret });
      else {
        const secrets: Field[] = [
          ["client_secret", clientSecret ?? "(none: public client)"],
          ["webhook_secret", webhookSecret],
        ];
        print(record([...applicationFields(application), ...secrets]));
      }
      shownOnce(clientSecret !== null ? "client_secret and webhook_secret" : "webhook_secret", json);
    },
  },

  "apps list": {
    usage: "[--limit N] [--cursor C]",
    summary: "list applications, oldest first",
    options: pageOptions,
    async run({ values, json }) {
      const page = await withDomain((ctx) => listApplications(ctx, pageRequest(values)));
      if (json) return printJson({ items: page.items.map(applicationJson), next_cursor: page.nextCursor });
      if (page.items.length === 0) return print("No applications.");
      const rows = page.items.map((app) => [app.id, app.clientId, app.name, app.clientType, app.scopes, app.createdAt]);
      print(table(["ID", "CLIENT_ID", "NAME", "TYPE", "SCOPES", "CREATED_AT"], rows) + moreHint("apps list", page.nextCursor));
    },
  },

  "apps grant-types": {
    usage: "<id | client_id> <grant_type> [<grant_type> ...]",
    summary: "set the grant types an application may use (e.g. add client_credentials for installation tokens)",
    positionals: ["id", "grant_types..."],
    async run({ positionals, json }) {
      const [reference, ...grantTypes] = positionals as [string, ...string[]];
      if (grantTypes.length === 0) throw new UsageError("give at least one grant type");
      const { application: updated } = await withDomain(async (ctx) =>
        updateApplication(ctx, (await resolveApplication(ctx, reference)).id, { grantTypes }),
      );
      if (json) printJson(applicationJson(updated));
      else print(record(applicationFields(updated)));
    },
  },

  "apps show": {
    usage: "<id | client_id>",
    summary: "show one application (never its secrets)",
    positionals: ["id"],
    async run({ positionals, json }) {
      const application = await withDomain(async (ctx) => {
        const found = await findApplication(ctx, positionals[0]!);
        if (!found) throw notFound("application");
        return found;
      });
      if (json) printJson(applicationJson(application));
      else print(record(applicationFields(application)));
    },
  },

  "apps delete": {
    usage: "<id>",
    summary: "delete an application and revoke everything issued to it",
    positionals: ["id"],
    async run({ positionals, json }) {
      const id = positionals[0]!;
      await withDomain((ctx) => deleteApplication(ctx, id));
      if (json) printJson({ id, deleted: true });
      else print(`Deleted application ${id}; its secrets, installations, codes and tokens no longer work.`);
    },
  },

  "apps secrets": {
    usage: "<id>",
    summary: "list an application's client secrets (ids and dates, never the values)",
    positionals: ["id"],
    async run({ positionals, json }) {
      const { secrets, now } = await withDomain(async (ctx) => ({ secrets: await listSecrets(ctx, positionals[0]!), now: ctx.clock() }));
      if (json) return printJson({ items: secrets.map((secret) => secretJson(secret, now)) });
      if (secrets.length === 0) return print("No client secrets.");
      const rows = secrets.map((secret) => {
        const json = secretJson(secret, now);
        return [json.id, json.created_at, json.expires_at ?? "never", json.active ? "yes" : "no"];
      });
      print(table(["ID", "CREATED_AT", "EXPIRES_AT", "ACTIVE"], rows));
    },
  },

  "apps add-secret": {
    usage: "<id> [--expires-at ISO]",
    summary: "add a client secret for rotation (at most two active); prints it once",
    options: { "expires-at": { type: "string" } },
    positionals: ["id"],
    async run({ values, positionals, json }) {
      const expiresAt = timestamp(values, "expires-at") ?? null;
      const { issued, now } = await withDomain(async (ctx) => ({
        issued: await addSecret(ctx, positionals[0]!, { expiresAt }),
        now: ctx.clock(),
      }));
      const shape = secretJson(issued.secret, now);
      if (json) printJson({ ...shape, client_secret: issued.clientSecret });
      else {
        print(
          record([
            ["id", shape.id],
            ["created_at", shape.created_at],
            ["expires_at", shape.expires_at ?? "never"],
            ["client_secret", issued.clientSecret],
          ]),
        );
      }
      shownOnce("client_secret", json);
    },
  },

  "apps delete-secret": {
    usage: "<id> <secret-id> [--force]",
    summary: "delete one client secret; it stops authenticating at once (the last working one only with --force)",
    options: { force: { type: "boolean" } },
    positionals: ["id", "secret-id"],
    async run({ values, positionals, json }) {
      const [id, secretId] = positionals as [string, string];
      await withDomain((ctx) => deleteSecret(ctx, id, secretId, { force: values.force === true })).catch((error: unknown) => {
        throw error instanceof LastSecretError ? conflict(`${error.message} --force`) : error;
      });
      if (json) printJson({ id: secretId, deleted: true });
      else print(`Deleted client secret ${secretId} of application ${id}.`);
    },
  },

  "apps keys": {
    usage: "<id | client_id>",
    summary: "list an application's keys (public keys: nothing else is stored)",
    positionals: ["app"],
    async run({ positionals, json }) {
      const keys = await withDomain(async (ctx) => listKeys(ctx, (await resolveApplication(ctx, positionals[0]!)).id));
      if (json) return printJson({ items: keys.map(applicationKeyJson) });
      if (keys.length === 0) return print("No keys.");
      print(
        table(
          ["ID", "KID", "ALG", "CREATED_AT"],
          keys.map((key) => [key.id, key.kid, key.alg, key.createdAt]),
        ),
      );
    },
  },

  "apps add-key": {
    usage: "<id | client_id> [--jwk-file F]",
    summary: "add a key: generate an ES256 pair (prints its private key once) or register the public JWK in --jwk-file (- for stdin)",
    options: { "jwk-file": { type: "string" } },
    positionals: ["app"],
    async run({ values, positionals, json }) {
      const file = optionalString(values, "jwk-file");
      const jwk = file === undefined ? undefined : readJwkFile(file);
      const { key, privateKeyPem } = await withDomain(async (ctx) => {
        const { id } = await resolveApplication(ctx, positionals[0]!);
        return jwk === undefined ? generateKey(ctx, id) : { key: await registerKey(ctx, id, jwk), privateKeyPem: undefined };
      });
      if (privateKeyPem === undefined) {
        if (json) printJson(applicationKeyJson(key));
        else print(record(keyFields(key)));
        return;
      }
      if (json) printJson({ ...applicationKeyJson(key), private_key: privateKeyPem });
      else print(`${record(keyFields(key))}\n\n${privateKeyPem.trimEnd()}`);
      shownOnce("private key", json);
    },
  },

  "apps delete-key": {
    usage: "<id | client_id> <key-id>",
    summary: "delete one of an application's keys; JWTs signed with it are refused at once",
    positionals: ["app", "key-id"],
    async run({ positionals, json }) {
      const [reference, keyId] = positionals as [string, string];
      const id = await withDomain(async (ctx) => {
        const application = await resolveApplication(ctx, reference);
        await deleteKey(ctx, application.id, keyId);
        return application.id;
      });
      if (json) printJson({ id: keyId, deleted: true });
      else print(`Deleted key ${keyId} of application ${id}; JWTs signed with it are refused from now on.`);
    },
  },

  "apps rotate-webhook-secret": {
    usage: "<id>",
    summary: "replace the secret that signs the application's webhooks; prints the new one once",
    positionals: ["id"],
    async run({ positionals, json }) {
      const webhookSecret = await withDomain((ctx) => rotateWebhookSecret(ctx, positionals[0]!));
      if (json) printJson({ id: positionals[0], webhook_secret: webhookSecret });
      else
        print(
          record([
            ["id", positionals[0]!],
            ["webhook_secret", webhookSecret],
          ]),
        );
      shownOnce("webhook_secret", json);
    },
  },
};
