// What the server traces, as a port: the layers start spans here, and src/main/tracing.ts
// (OpenTelemetry, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set) exports them.
// Off, the layers are handed NO_TRACING and, where it matters (each HTTP request, each
// token-store statement), check `enabled` once at start-up and install nothing at all:
// no hook, no wrapper, no span object, no context propagation.
//
// Attribute values never carry a secret, token, code, assertion, Authorization header,
// account, request body or SQL parameter: names, ids, methods, routes, statuses, codes.

export type AttributeValue = string | number | boolean;
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** The OpenTelemetry semantic-convention names used here (checked against @opentelemetry/semantic-conventions by the tests). */
export const ATTR = {
  httpRequestMethod: "http.request.method",
  httpRoute: "http.route",
  httpResponseStatusCode: "http.response.status_code",
  httpRequestResendCount: "http.request.resend_count",
  urlPath: "url.path",
  urlScheme: "url.scheme",
  urlFull: "url.full",
  serverAddress: "server.address",
  serverPort: "server.port",
  clientAddress: "client.address",
  userAgentOriginal: "user_agent.original",
  errorType: "error.type",
  dbSystemName: "db.system.name",
  dbNamespace: "db.namespace",
  dbOperationName: "db.operation.name",
  dbCollectionName: "db.collection.name",
  dbQuerySummary: "db.query.summary",
  dbQueryText: "db.query.text",
} as const;

/** appgrant's own attributes (namespaced, as the conventions ask of application attributes). */
export const APPGRANT_ATTR = {
  requestId: "appgrant.request_id",
  grantType: "appgrant.oauth.grant_type",
  clientId: "appgrant.oauth.client_id",
  oauthError: "appgrant.oauth.error",
  applicationId: "appgrant.application_id",
  deliveryId: "appgrant.webhook.delivery_id",
  eventType: "appgrant.webhook.event_type",
} as const;

export interface Span {
  setAttribute(key: string, value: AttributeValue): void;
  /** Renames the span (a server span learns its route only once routed). */
  updateName(name: string): void;
  /** Marks the span failed, with error.type: a status, a code or a class name, never a message. */
  fail(errorType: string): void;
  end(): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * A server span for an incoming request, the child of the caller's span when the
   * request carries a valid W3C traceparent (and tracestate).
   */
  server(name: string, carrier: Readonly<Record<string, string | string[] | undefined>>, attributes: Attributes): Span;
  /** A client span (a database statement, a webhook attempt), the child of the current span if any. */
  client(name: string, attributes: Attributes): Span;
  /**
   * Runs `fn` with `span` as the current span: the spans started within it, even after
   * awaits, are its children. With NO_SPAN, `fn` runs with no current span (its spans are roots).
   */
  within<T>(span: Span, fn: () => T): T;
}

/** Records nothing. */
export const NO_SPAN: Span = {
  setAttribute() {},
  updateName() {},
  fail() {},
  end() {},
};

/** Traces nothing: what runs when tracing is off, and in code that was given none. */
export const NO_TRACING: Tracing = {
  enabled: false,
  server: () => NO_SPAN,
  client: () => NO_SPAN,
  within: (_span, fn) => fn(),
};
