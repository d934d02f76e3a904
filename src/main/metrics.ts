// Prometheus metrics (prom-client) and the management listener that serves them:
// APPGRANT_METRICS_PORT (off by default) on APPGRANT_METRICS_HOST (127.0.0.1), never on
// the public port. The series are what src/shared/metrics.ts reports, prom-client's
// process and event-loop defaults, appgrant_build_info, and the dependency gauges read
// at scrape time from their DependencyStatus.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DependencyStatus } from "../shared/dependency-status.js";
import type { Metrics } from "../shared/metrics.js";
import { VERSION } from "../shared/version.js";

export interface PrometheusMetrics extends Metrics {
  registry: Registry;
  /** Dependencies whose up/down state is exported (read at each scrape). */
  watch(name: string, status: DependencyStatus): void;
}

export function prometheusMetrics(commit: string | undefined): PrometheusMetrics {
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
    help: "Answers of /oauth/token, by grant type and outcome (success or the RFC 6749 error code).",
    labelNames: ["grant_type", "outcome"],
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

  return {
    registry,
    watch: (name, status) => watched.set(name, status),
    httpRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      duration.observe({ route }, seconds);
    },
    tokenRequest: (grantType, outcome) => tokens.inc({ grant_type: grantType, outcome }),
    refreshReplay: () => replays.inc(),
    reuseDetected: (kind) => reuse.inc({ kind }),
    clientAuthFailure: (method) => authFailures.inc({ method }),
    rateLimited: (limit) => limited.inc({ limit }),
    introspection: (active) => introspections.inc({ active: String(active) }),
    webhookAttempt: (outcome) => webhooks.inc({ outcome }),
  };
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
