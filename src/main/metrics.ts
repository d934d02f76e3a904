// Prometheus metrics (prom-client) and the management listener that serves them:
// APPGRANT_METRICS_PORT (off by default) on APPGRANT_METRICS_HOST (127.0.0.1), never on
// the public port. The series are what src/shared/metrics.ts reports, prom-client's
// process and event-loop defaults, appgrant_build_info, and the dependency gauges read
// at scrape time from their DependencyStatus.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DependencyStatus } from "../shared/dependency-status.js";
import type { OutboxBacklog } from "../domain/deliveries.js";
import type { DatabaseStats } from "../storage/database.js";
import type { Metrics } from "../shared/metrics.js";
import { VERSION } from "../shared/version.js";

export interface PrometheusMetrics extends Metrics {
  registry: Registry;
  /** Dependencies whose up/down state and failures are exported (read at each scrape). */
  watch(name: string, status: DependencyStatus): void;
  /** The database's pool (PostgreSQL) or write-lock (SQLite) counters, read at each scrape. */
  watchDatabase(kind: "sqlite" | "postgres", stats: () => DatabaseStats): void;
  /** The webhook outbox's backlog (queried at each scrape, within its own deadline). */
  watchOutbox(backlog: () => Promise<OutboxBacklog>): void;
}

export interface MetricsOptions {
  commit: string | undefined;
  /** Label token answers with the authenticated client_id (APPGRANT_METRICS_PER_CLIENT). */
  perClient: boolean;
}

/** A Counter whose value is read from a running total at each scrape. */
function totalCounter(registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]) {
  const last = new Map<string, number>();
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labels);
        const delta = total - (last.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        last.set(key, total);
      }
    },
  });
}

export function prometheusMetrics({ commit, perClient }: MetricsOptions): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "appgrant_" });
  new Gauge({
    name: "appgrant_build_info",
    help: "Always 1; the labels say which build runs.",
    labelNames: ["version", "commit"],
    registers: [registry],
  }).set({ version: VERSION, commit: commit ?? "unknown" }, 1);

  const requests = new Counter({
    name: "appgrant_http_requests_total",
    help: "HTTP requests answered, by route template, method and status.",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "appgrant_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by route template.",
    labelNames: ["route"],
    // Sub-millisecond (introspection) to seconds (argon2, an outage's deadlines).
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "appgrant_token_requests_total",
    help:
      "Answers of /oauth/token (and of the GitHub-compatible token endpoint, grant_type github_app), by grant type and " +
      "outcome (success or the RFC 6749 error code); by client_id too with APPGRANT_METRICS_PER_CLIENT=true.",
    labelNames: perClient ? ["grant_type", "outcome", "client_id"] : ["grant_type", "outcome"],
    registers: [registry],
  });
  const replays = new Counter({
    name: "appgrant_refresh_replays_total",
    help: "Rotated refresh tokens retried within the grace period and answered with the same successor.",
    registers: [registry],
  });
  const reuse = new Counter({
    name: "appgrant_reuse_detections_total",
    help: "Reused authorization codes and refresh tokens (each revoked its token family), by kind.",
    labelNames: ["kind"],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: "appgrant_client_auth_failures_total",
    help: "Failed client authentications at the OAuth endpoints, by method.",
    labelNames: ["method"],
    registers: [registry],
  });
  const limited = new Counter({
    name: "appgrant_rate_limited_total",
    help: "Requests refused by a rate limit (429), by limit.",
    labelNames: ["limit"],
    registers: [registry],
  });
  const introspections = new Counter({
    name: "appgrant_introspections_total",
    help: "Introspection answers, by whether the token was active.",
    labelNames: ["active"],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: "appgrant_webhook_attempts_total",
    help: "Webhook delivery attempts, by outcome: delivered, retry (failed, will retry), failed (given up or refused).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const watched = new Map<string, DependencyStatus>();
  new Gauge({
    name: "appgrant_dependency_up",
    help: "1 while a dependency answers, 0 during an outage, by dependency (database, redis).",
    labelNames: ["dependency"],
    registers: [registry],
    collect() {
      for (const [name, status] of watched) this.set({ dependency: name }, status.up ? 1 : 0);
    },
  });

  totalCounter(
    registry,
    "appgrant_dependency_errors_total",
    "Failed calls to a dependency, by dependency and kind: timeout, lock (SQLite's write lock stayed taken), connection, circuit_open (Redis not asked during an outage).",
    ["dependency", "kind"],
    () =>
      [...watched].flatMap(([dependency, status]) =>
        [...status.failures].map(([kind, total]): [Record<string, string>, number] => [{ dependency, kind }, total]),
      ),
  );

  let outboxBacklog: (() => Promise<OutboxBacklog>) | undefined;
  let backlog: Promise<OutboxBacklog | undefined> | undefined;
  /** One query per scrape for the three gauges; a failed one leaves them as they were. */
  const readBacklog = () => {
    backlog ??= (outboxBacklog?.() ?? Promise.resolve(undefined)).catch(() => undefined).finally(() => setImmediate(() => (backlog = undefined)));
    return backlog;
  };
  const backlogGauge = (name: string, help: string, read: (backlog: OutboxBacklog) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = await readBacklog();
        if (value) this.set(read(value));
      },
    });
  backlogGauge("appgrant_webhook_backlog", "Webhook deliveries pending (not yet delivered nor given up), in all processes.", (b) => b.pending);
  backlogGauge(
    "appgrant_webhook_overdue_seconds",
    "How long the most overdue pending webhook delivery has been due, in seconds (0 when none is due): the workers are behind.",
    (b) => b.overdueSeconds,
  );
  backlogGauge(
    "appgrant_webhooks_paused_applications",
    "Applications whose webhooks are paused (their endpoint kept failing, or a leaked webhook secret was replaced).",
    (b) => b.pausedApplications,
  );

  return {
    registry,
    watch: (name, status) => watched.set(name, status),
    watchDatabase: (kind, stats) => (kind === "postgres" ? poolMetrics(registry, stats) : writeLockMetrics(registry, stats)),
    watchOutbox: (read) => {
      outboxBacklog = read;
    },
    httpRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      duration.observe({ route }, seconds);
    },
    tokenRequest: perClient
      ? (grantType, outcome, clientId) => tokens.inc({ grant_type: grantType, outcome, client_id: clientId ?? "" })
      : (grantType, outcome) => tokens.inc({ grant_type: grantType, outcome }),
    refreshReplay: () => replays.inc(),
    reuseDetected: (kind) => reuse.inc({ kind }),
    clientAuthFailure: (method) => authFailures.inc({ method }),
    rateLimited: (limit) => limited.inc({ limit }),
    introspection: (active) => introspections.inc({ active: String(active) }),
    webhookAttempt: (outcome) => webhooks.inc({ outcome }),
  };
}

function poolMetrics(registry: Registry, stats: () => DatabaseStats): void {
  const poolGauge = (name: string, help: string, read: (pool: NonNullable<DatabaseStats["pool"]>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const pool = stats().pool;
        if (pool) this.set(read(pool));
      },
    });
  poolGauge(
    "appgrant_db_pool_connections_in_use",
    "PostgreSQL: pool connections running a statement or a transaction.",
    (pool) => pool.total - pool.idle,
  );
  poolGauge("appgrant_db_pool_connections_idle", "PostgreSQL: open pool connections that are idle.", (pool) => pool.idle);
  poolGauge("appgrant_db_pool_waiting", "PostgreSQL: calls waiting for a pool connection.", (pool) => pool.waiting);
}

function writeLockMetrics(registry: Registry, stats: () => DatabaseStats): void {
  new Gauge({
    name: "appgrant_sqlite_write_queue",
    help: "SQLite: writes of this process queued for the write lock or running now.",
    registers: [registry],
    collect() {
      const lock = stats().writeLock;
      if (lock) this.set(lock.queued);
    },
  });
  // Each a series only where its source exists: the checkpoints only while the background
  // checkpointer (src/storage/checkpointer.ts) runs.
  const sqliteTotal = (name: string, help: string, read: (stats: DatabaseStats) => number | undefined) =>
    totalCounter(registry, name, help, [], () => {
      const value = read(stats());
      return value === undefined ? [] : [[{}, value]];
    });
  sqliteTotal("appgrant_sqlite_writes_total", "SQLite: writes that got the write lock.", (s) => s.writeLock?.writes);
  sqliteTotal(
    "appgrant_sqlite_write_lock_contended_total",
    "SQLite: writes that found another process holding the write lock, and waited for it.",
    (s) => s.writeLock?.contended,
  );
  sqliteTotal(
    "appgrant_sqlite_write_lock_wait_seconds_total",
    "SQLite: seconds writes waited for the write lock, the in-process queue included (divide by writes_total for the mean).",
    (s) => s.writeLock?.waitSeconds,
  );
  sqliteTotal("appgrant_sqlite_lookups_total", "SQLite: lookups of the token path (clients, codes, tokens, installations).", (s) => s.reads?.lookups);
  sqliteTotal(
    "appgrant_sqlite_read_transactions_total",
    "SQLite: read transactions the lookups of one turn of the event loop shared (divide lookups_total by it for the mean group).",
    (s) => s.reads?.transactions,
  );
  sqliteTotal(
    "appgrant_sqlite_checkpoints_total",
    "SQLite: WAL checkpoints the background worker ran that copied pages into the database file.",
    (s) => s.checkpoints,
  );
  sqliteTotal(
    "appgrant_sqlite_checkpoint_pauses_total",
    "SQLite: times this process held its writes for the checkpoint worker to catch up, so the WAL could start over.",
    (s) => s.checkpointPauses,
  );
}

/** The management listener: GET /metrics in Prometheus' text format; anything else 404. */
export async function metricsServer(registry: Registry, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      () => response.writeHead(500, { "content-type": "text/plain" }).end("metrics could not be collected\n"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  server.on("error", () => undefined);
  return { server, port: (server.address() as AddressInfo).port };
}
