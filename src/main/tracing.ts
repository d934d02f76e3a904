// OpenTelemetry tracing behind the port of src/shared/tracing.ts: spans exported over
// OTLP/HTTP to the collector OTEL_EXPORTER_OTLP_ENDPOINT names (config.tracing), in
// batches with a deadline on each export. Nothing of the SDK is imported unless tracing
// is on: every OpenTelemetry import below is a type or a dynamic import().
//
// The current span lives in an AsyncLocalStorage of this instance, handed to the SDK
// as each span's parent context explicitly: nothing global is registered (no global
// tracer provider, context manager or propagator), so nothing else in the process is
// traced or changed, and two apps in one process (the tests) stay apart.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, Span as OtelSpan } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Attributes, AttributeValue, Span, Tracing } from "../shared/tracing.js";
import { VERSION } from "../shared/version.js";

export interface TracingSettings {
  /** The OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  url: string;
  /** service.name of every span (OTEL_SERVICE_NAME, default appgrant). */
  serviceName: string;
}

export interface OpenTelemetryTracing extends Tracing {
  /** Exports the spans still queued, within `deadlineMs`, and stops. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** Deadline of one export to the collector; the batch processor drops a batch it could not send. */
const EXPORT_TIMEOUT_MS = 10_000;

/** Only defined values: the SDK would warn about (and drop) undefined ones. */
function defined(attributes: Attributes): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/**
 * Starts tracing: loads the SDK and the exporter. `exporter` replaces the OTLP exporter
 * (tests pass an InMemorySpanExporter); its spans are handed over as each one ends.
 */
export async function openTelemetryTracing(
  settings: TracingSettings,
  commit: string | undefined,
  exporter?: SpanExporter,
): Promise<OpenTelemetryTracing> {
  const [api, sdk, core, resources, conventions] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const processor = exporter
    ? new sdk.SimpleSpanProcessor(exporter)
    : new sdk.BatchSpanProcessor(
        new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter({ url: settings.url, timeoutMillis: EXPORT_TIMEOUT_MS }),
        {
          exportTimeoutMillis: EXPORT_TIMEOUT_MS,
        },
      );
  const resource = resources.defaultResource().merge(
    resources.resourceFromAttributes({
      [conventions.ATTR_SERVICE_NAME]: settings.serviceName,
      [conventions.ATTR_SERVICE_VERSION]: VERSION,
      ...(commit !== undefined ? { "vcs.ref.head.revision": commit } : {}),
    }),
  );
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [processor] });
  const tracer = provider.getTracer("appgrant", VERSION);
  const propagator = new core.W3CTraceContextPropagator();
  const current = new AsyncLocalStorage<Context>();

  /** A span and the context whose current span it is (for its children). */
  class TracedSpan implements Span {
    constructor(
      readonly span: OtelSpan,
      readonly context: Context,
    ) {}
    setAttribute(key: string, value: AttributeValue): void {
      this.span.setAttribute(key, value);
    }
    updateName(name: string): void {
      this.span.updateName(name);
    }
    fail(errorType: string): void {
      this.span.setAttribute(conventions.ATTR_ERROR_TYPE, errorType);
      this.span.setStatus({ code: api.SpanStatusCode.ERROR });
    }
    end(): void {
      this.span.end();
    }
  }

  const start = (name: string, kind: number, attributes: Attributes, parent: Context) => {
    const span = tracer.startSpan(name, { kind, attributes: defined(attributes) }, parent);
    return new TracedSpan(span, api.trace.setSpan(parent, span));
  };

  return {
    enabled: true,
    server(name, carrier, attributes) {
      const parent = propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter);
      return start(name, api.SpanKind.SERVER, attributes, parent);
    },
    client(name, attributes) {
      return start(name, api.SpanKind.CLIENT, attributes, current.getStore() ?? api.ROOT_CONTEXT);
    },
    within(span, fn) {
      return span instanceof TracedSpan ? current.run(span.context, fn) : current.exit(fn);
    },
    async shutdown(deadlineMs) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => undefined), deadline]).finally(() => clearTimeout(timer));
    },
  };
}
