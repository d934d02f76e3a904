// Builds the Fastify application from a config object. The server entry and the
// tests both call this; nothing here reads the environment.
import type { Server } from "node:http";
import { metricsServer, prometheusMetrics } from "./metrics.js";
import { type Metrics, NO_METRICS } from "../shared/metrics.js";
import { NO_TRACING, type Tracing } from "../shared/tracing.js";
import { openTelemetryTracing } from "./tracing.js";
import { traceRequests } from "../http/tracing.js";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { buildInfo } from "../shared/version.js";
import { echoRequestId, requestId } from "../http/request-id.js";
import { createHmac } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { adminApi } from "../http/admin/plugin.js";
import type { Config } from "./config.js";
import { SecretHasher } from "../crypto/secret-hasher.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import { type Database, openDatabase, resolveSecretKey } from "../storage/database.js";
import { type Clock, createDomainContext, type DomainContext } from "../domain/context.js";
import { health } from "../http/health.js";
import { GrantRegistry } from "../oauth/grant-type.js";
import { GRANT_TYPE_OFFERS, GRANT_TYPES } from "../oauth/grants/index.js";
import type { OAuthStore } from "../oauth/token-store.js";
import { oauthEndpoints } from "../http/oauth/plugin.js";
import { githubCompatible } from "../http/github/plugin.js";
import { discoveryRoute } from "../http/oauth/discovery.js";
import { loggerOptions } from "./logging.js";
import { DeliveryWorker, type WebhookSettings } from "../webhooks/outbox.js";
import { createOutboxStore } from "../storage/outbox-store.js";
import { pauseWebhooks } from "../domain/webhook-pause.js";
import { outboxBacklog } from "../domain/deliveries.js";
import { WebhookAddressPolicy } from "../shared/webhook-address-policy.js";
import { formatSchemaErrors } from "../http/schema-errors.js";
import { openApi } from "../http/openapi.js";
import { drainHooks } from "./shutdown.js";
import { clientErrorHandler, frameworkErrors, rootErrorHandling } from "../http/error-shapes.js";
import { connectRedis, redisMemory } from "../storage/redis.js";
import { MemoryCounter } from "../shared/counter.js";
import { DependencyStatus } from "../shared/dependency-status.js";
import { RedisCounter } from "../storage/rate-limit-counter.js";
import { fileLoader, ScannerKeys, urlLoader } from "../crypto/scanner-keys.js";
import { secretScanning } from "../http/secret-scanning.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The state of each dependency as requests find it (outages, failure counts), for health checks and metrics. */
    dependencies: { database: DependencyStatus; redis?: DependencyStatus };
    domain: DomainContext;
    config: Config;
    /** What the server counts (src/shared/metrics.ts); NO_METRICS unless APPGRANT_METRICS_PORT is set. */
    metrics: Metrics;
    /** The management listener's port once listening (APPGRANT_METRICS_PORT; 0 picks one), else undefined. */
    metricsPort: number | undefined;
    /** What the server traces (src/shared/tracing.ts); NO_TRACING unless OTEL_EXPORTER_OTLP_ENDPOINT is set. */
    tracing: Tracing;
    /** The webhook outbox's worker: `idle()` waits for the round in progress, its attempts and what they decided. */
    webhooks: DeliveryWorker;
  }
}

/** The grant types /oauth/token serves. A new grant type is one module added here. */
export { GRANT_TYPES };

export interface AppOptions {
  config: Config;
  /** Injectable time source: tests move it instead of sleeping. */
  clock?: Clock;
  /** Where logs go (default stdout); tests capture them to prove nothing secret is written. */
  logStream?: DestinationStream;
  /** An open database; otherwise one is opened from config.database and closed with the app. */
  database?: Database;
  /** Delivery worker settings beyond the config's (tests shorten the poll and the backoff, inject a resolver). */
  webhooks?: WebhookSettings;
  /** Overrides config.secretKeys and the key file (tests). */
  secretKey?: ServerKeys;
  /** Where spans go instead of the OTLP collector, when config.tracing is set (tests: an InMemorySpanExporter). */
  traceExporter?: SpanExporter;
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
    // Requests arriving during a shutdown get drainHooks' 503 in their endpoint's shape, not Fastify's.
    return503OnClosing: false,
    // Errors raised before any context's handler can answer (see src/http/error-shapes.ts).
    frameworkErrors,
    clientErrorHandler,
    // X-Request-Id, validated (src/http/request-id.ts); every log line of the request carries it as reqId.
    genReqId: requestId,
    requestIdHeader: false,
  });
  echoRequestId(app);
  // Loaded only when on (a dynamic import): off, nothing of OpenTelemetry is imported.
  const otel = config.tracing ? await openTelemetryTracing(config.tracing, config.commit, options.traceExporter) : undefined;
  const tracing: Tracing = otel ?? NO_TRACING;
  app.decorate("tracing", tracing);
  traceRequests(app, tracing);
  const prometheus = config.metricsPort !== undefined ? prometheusMetrics({ commit: config.commit, perClient: config.metricsPerClient }) : undefined;
  const metrics: Metrics = prometheus ?? NO_METRICS;
  app.decorate("metrics", metrics);
  app.decorate("metricsPort", undefined);
  app.addHook("onResponse", async (request, reply) => {
    metrics.httpRequest(request.routeOptions.url ?? "unmatched", request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  drainHooks(app);
  rootErrorHandling(app);
  const database = options.database ?? (await openDatabase(config.database, config.db, new DependencyStatus("database", app.log), tracing));
  app.decorate("dependencies", { database: database.status });
  prometheus?.watch("database", database.status);
  prometheus?.watchDatabase(config.database.kind, () => database.stats());

  app.decorate("config", config);
  const secretKey = options.secretKey ?? resolveSecretKey(config);
  const clock = options.clock ?? (() => new Date());
  // The webhook outbox's worker (src/webhooks/outbox.ts), in every server process.
  const webhooks = new DeliveryWorker({
    store: createOutboxStore(database, config.database.kind),
    secretKey,
    clock,
    log: app.log,
    policy: new WebhookAddressPolicy(config.webhookPolicy),
    timeoutMs: config.webhookTimeout * 1000,
    giveUpAfterMs: config.webhookGiveUpHours * 3_600_000,
    pauseAfterFailures: config.webhookPauseAfterFailures,
    pauseAfterMs: config.webhookPauseAfterHours * 3_600_000,
    dbTimeoutMs: config.db.queryTimeoutMs + config.db.connectTimeoutMs,
    pause: (applicationId, streak) => pauseWebhooks(app.domain, applicationId, streak),
    metrics,
    tracing,
    ...options.webhooks,
  });
  app.decorate("webhooks", webhooks);
  // A domain write may have recorded a delivery: the worker looks at once instead of at its next poll.
  const transaction: Database["transaction"] = async (fn) => {
    const result = await database.transaction(fn);
    webhooks.wake();
    return result;
  };
  app.decorate(
    "domain",
    createDomainContext({ prisma: database.prisma, transaction }, { ...config, grantTypes: GRANT_TYPE_OFFERS }, new SecretHasher(), secretKey, clock),
  );
  prometheus?.watchOutbox(() => outboxBacklog(app.domain));
  // Redis for the shared rate limits (src/storage/redis.ts): unreachable at start, refuse to start.
  const redis = config.redisUrl
    ? await connectRedis(config.redisUrl, { timeoutMs: config.redisTimeout, log: app.log }).catch(async (error: unknown) => {
        if (!options.database) await database.close();
        throw error;
      })
    : undefined;
  if (redis) {
    app.dependencies.redis = redis.status;
    prometheus?.watch("redis", redis.status);
    // Verified client secrets, shared by the processes for a day (see src/crypto/secret-hasher.ts).
    const key = createHmac("sha256", secretKey.current).update("appgrant shared secret verifications").digest();
    app.domain.hasher.share(redisMemory(redis, `${config.redisPrefix}verified:`, 86_400), key);
  }
  // The rate limits count in memory on the app's clock, or in Redis with memory as its fallback.
  const memoryCounter = new MemoryCounter(() => app.domain.clock().getTime());
  const rateLimitCounter = redis ? new RedisCounter(redis, `${config.redisPrefix}rate-limit:`, memoryCounter) : memoryCounter;
  // One hook, in order: the attempts in progress still record themselves in the database.
  if (prometheus && config.metricsPort !== undefined) {
    const { metricsHost, metricsPort } = config;
    let management: Server | undefined;
    app.addHook("onReady", async () => {
      const listening = await metricsServer(prometheus.registry, metricsHost, metricsPort);
      management = listening.server;
      app.metricsPort = listening.port;
      app.log.info({ host: metricsHost, port: listening.port }, "metrics served on the management listener");
    });
    app.addHook("onClose", async () => {
      await new Promise<void>((resolve) => (management ? management.close(() => resolve()) : resolve()));
    });
  }
  app.addHook("onClose", async () => {
    await webhooks.close();
    await redis?.close();
    if (!options.database) await database.close();
    // Last: the spans of the attempts and requests that just ended are exported too.
    await otel?.shutdown(config.shutdownGrace * 1000);
  });

  // Before the routes: it collects them, with their schemas, as they are added.
  await openApi(app, { serve: config.docs });
  app.addHook("onReady", async () => webhooks.start());
  await app.register(health, { ping: () => database.ping(), deadlineMs: config.db.readyTimeoutMs, build: buildInfo(config.commit) });
  await app.register(adminApi, {
    prefix: "/admin/v1",
    deviceLookups: { counter: rateLimitCounter, windowSeconds: config.rateLimit.windowSeconds, failures: config.device.lookupFailures },
  });
  const registry = new GrantRegistry<OAuthStore>(GRANT_TYPES);
  discoveryRoute(app, registry);
  await app.register(oauthEndpoints, {
    prefix: "/oauth",
    registry,
    rateLimits: { ...config.rateLimit, counter: rateLimitCounter },
    store: database.tokens,
    secretKey,
    credentialRevokeLimit: { ...config.credentialRevokeLimit, counter: rateLimitCounter },
  });
  const scanning = config.secretScanningKeys;
  const scannerKeys = scanning
    ? new ScannerKeys({ load: "url" in scanning ? urlLoader(scanning.url) : fileLoader(scanning.file), clock: () => app.domain.clock() })
    : undefined;
  await app.register(secretScanning, { prefix: "/secret-scanning", keys: scannerKeys });
  await app.register(githubCompatible, { prefix: "/app", store: database.tokens, rateLimits: { ...config.rateLimit, counter: rateLimitCounter } });
  return app;
}
