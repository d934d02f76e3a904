// Builds the Fastify application from a config object. The server entry and the
// tests both call this; nothing here reads the environment.
import formbody from "@fastify/formbody";
import { Redis } from "ioredis";
import Fastify, { type FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { adminApi } from "./admin/plugin.js";
import type { Config } from "./config.js";
import { SecretHasher } from "./crypto/secret-hasher.js";
import { type Database, openDatabase, resolveSecretKey } from "./db/database.js";
import { DependencyStatus } from "./dependency-status.js";
import { type Clock, createDomainContext, type DomainContext } from "./domain/context.js";
import { health } from "./health.js";
import { GrantRegistry } from "./oauth/grant-type.js";
import { authorizationCode } from "./oauth/grants/authorization-code.js";
import { refreshToken } from "./oauth/grants/refresh-token.js";
import { oauthEndpoints } from "./oauth/plugin.js";
import { discoveryRoute } from "./oauth/discovery.js";
import { loggerOptions } from "./logging.js";
import { installationWebhooks, type WebhookSettings } from "./webhooks/installation-events.js";
import { formatSchemaErrors } from "./schema-errors.js";

declare module "fastify" {
  interface FastifyInstance {
    domain: DomainContext;
    config: Config;
    /** The state of each dependency as requests find it (outages, failure counts). */
    dependencies: { database: DependencyStatus };
  }
}

/** The grant types /oauth/token serves. A new grant type is one module added here. */
export const GRANT_TYPES = [authorizationCode, refreshToken];

export interface AppOptions {
  config: Config;
  /** Injectable time source: tests move it instead of sleeping. */
  clock?: Clock;
  /** Where logs go (default stdout); tests capture them to prove nothing secret is written. */
  logStream?: DestinationStream;
  /** An open database; otherwise one is opened from config.databaseUrl and closed with the app. */
  database?: Database;
  /** Webhook retry settings (tests shorten the backoff). */
  webhooks?: WebhookSettings;
  /** Overrides config.secretKey and the key file (tests). */
  secretKey?: string;
}

/**
 * Redis for the shared rate limits. Unreachable at start: refuse to start (a wrong
 * REDIS_URL must be loud). Lost later: requests fail open, logged.
 */
async function connectRedis(url: string, app: FastifyInstance): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, enableOfflineQueue: false });
  redis.on("error", (error: Error) => app.log.error({ err: error }, "redis error (rate limits fail open)"));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`REDIS_URL: cannot connect to Redis: ${error instanceof Error ? error.message : String(error)}`);
  }
  return redis;
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
  const database = options.database ?? (await openDatabase(config.databaseUrl, config.db, new DependencyStatus("database", app.log)));
  app.decorate("dependencies", { database: database.status });

  app.decorate("config", config);
  const secretKey = options.secretKey ?? resolveSecretKey(config);
  app.decorate("domain", createDomainContext(database, config, new SecretHasher(), secretKey, options.clock));

  const webhooks = installationWebhooks(app, options.webhooks);
  const redis = config.redisUrl ? await connectRedis(config.redisUrl, app) : undefined;
  // One hook, in order: pending webhook deliveries still read the database.
  app.addHook("onClose", async () => {
    await webhooks.close();
    await redis?.quit().catch(() => redis.disconnect());
    if (!options.database) await database.close();
  });

  await app.register(formbody);
  await app.register(health, { ping: () => database.ping(), deadlineMs: config.db.readyTimeoutMs });
  await app.register(adminApi, { prefix: "/admin/v1" });
  const registry = new GrantRegistry(GRANT_TYPES);
  discoveryRoute(app, registry);
  await app.register(oauthEndpoints, {
    prefix: "/oauth",
    registry,
    rateLimits: { ...config.rateLimit, redis, prefix: config.redisPrefix },
    store: database.tokens,
    secretKey,
  });
  return app;
}
