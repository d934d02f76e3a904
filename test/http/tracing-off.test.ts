// Tracing is off by default and free when off (issue 12): without
// OTEL_EXPORTER_OTLP_ENDPOINT the server never loads the OpenTelemetry SDK. A module
// resolve hook, registered before anything of appgrant is imported, reports every
// module of @opentelemetry/* the process resolves; a server built and exercised with
// tracing off resolves none of the SDK's, and the same process turning tracing on does
// (which shows the hook would have seen them).
import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";
import t from "tap";

const resolved: string[] = [];
const { port1, port2 } = new MessageChannel();
port1.on("message", (url: string) => resolved.push(url));
port1.unref();
const hooks = `
let port;
export async function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes("/@opentelemetry/")) port.postMessage(result.url);
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { port: port2 }, transferList: [port2] });

/** The SDK's own packages: @opentelemetry/api alone is prom-client's dependency, and no SDK. */
const sdk = () => resolved.filter((url) => !url.includes("/@opentelemetry/api/"));

/** Messages from the hooks' thread arrive asynchronously: wait for them, boundedly. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

t.test("without OTEL_EXPORTER_OTLP_ENDPOINT the SDK is never loaded and nothing is traced", async (t) => {
  const { buildTestApp, createApp, install } = await import("../support/helper.js");
  const { exchange, refresh } = await import("../support/oauth-helper.js");
  const { NO_TRACING } = await import("../../src/shared/tracing.js");

  const test = await buildTestApp(t);
  t.equal(test.config.tracing, undefined, "off by default");
  t.equal(test.app.tracing, NO_TRACING, "the layers are handed the no-op");
  const app = await createApp(test);
  const installed = await install(test, app.client_id);
  const client = { client_id: app.client_id, client_secret: app.client_secret };
  const pair = (await exchange(test, client, installed.code)).json() as { refresh_token: string };
  t.equal(
    (await refresh(test, client, pair.refresh_token, {}, { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } }))
      .statusCode,
    200,
  );
  await test.close();
  await settle();
  t.same(sdk(), [], "no module of the SDK was resolved");

  // The control: the same process with tracing on loads it, and the hook sees it.
  const { InMemorySpanExporter } = await import("@opentelemetry/sdk-trace-base");
  const exporter = new InMemorySpanExporter();
  const traced = await buildTestApp(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, { traceExporter: exporter });
  t.equal(traced.app.tracing.enabled, true);
  await traced.app.inject({ method: "GET", url: "/healthz" });
  t.equal(exporter.getFinishedSpans().length, 1, "one request, one span");
  await settle();
  t.ok(
    sdk().some((url) => url.includes("/@opentelemetry/resources/")),
    "with tracing on, the hook sees the server resolve the SDK (resources: imported by the server, not by this test)",
  );
});

t.test("OTEL_SDK_DISABLED=true keeps tracing off whatever the endpoint", async (t) => {
  const { buildTestApp } = await import("../support/helper.js");
  const { NO_TRACING } = await import("../../src/shared/tracing.js");
  const test = await buildTestApp(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" });
  t.equal(test.app.tracing, NO_TRACING);
});
