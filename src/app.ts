// Builds the Fastify application from a config object. The server entry and the
// tests both call this; nothing here reads the environment.
import formbody from "@fastify/formbody";
import Fastify, { type FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { adminApi } from "./admin/plugin.js";
import type { Config } from "./config.js";
import { SecretHasher } from "./crypto/secret-hasher.js";
import { connectDb, type Db } from "./db/client.js";
import type { Clock, DomainContext } from "./domain/context.js";
import { health } from "./health.js";
import { loggerOptions } from "./logging.js";
import { formatSchemaErrors } from "./schema-errors.js";

declare module "fastify" {
  interface FastifyInstance {
    domain: DomainContext;
    config: Config;
  }
}

export interface AppOptions {
  config: Config;
  /** Injectable time source: tests move it instead of sleeping. */
  clock?: Clock;
  /** Where logs go (default stdout); tests capture them to prove nothing secret is written. */
  logStream?: DestinationStream;
  /** An existing database client; otherwise one is opened from config.databaseUrl and closed with the app. */
  db?: Db;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: loggerOptions(config.logLevel, options.logStream),
    trustProxy: config.trustProxy,
    // Admin bodies are validated strictly: an unknown field is a mistake to report, not to drop.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    bodyLimit: 64 * 1024,
    schemaErrorFormatter: formatSchemaErrors,
  });
  const db = options.db ?? (await connectDb(config.databaseUrl));
  if (!options.db) app.addHook("onClose", async () => db.$disconnect());

  app.decorate("config", config);
  app.decorate("domain", {
    db,
    clock: options.clock ?? (() => new Date()),
    hasher: new SecretHasher(),
    config,
  } satisfies DomainContext);

  await app.register(formbody);
  await app.register(health);
  await app.register(adminApi, { prefix: "/admin/v1" });
  return app;
}
