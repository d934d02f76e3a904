// One server span per HTTP request (src/shared/tracing.ts), continuing the caller's W3C
// traceparent. Installed only when tracing is on: off, there is no hook at all.
//
// The span is current from onRequest on, and again from preHandler: the body is parsed
// in the socket's callbacks, outside the request's async context, so the handler (and
// the store statements it causes, each a child span) is entered in it once more, as
// @fastify/request-context does.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { redactPath } from "../shared/path-redaction.js";
import { APPGRANT_ATTR, ATTR, type Span, type Tracing } from "../shared/tracing.js";

const spans = new WeakMap<FastifyRequest, Span>();

/** The request's server span, to add what only a route knows (undefined when tracing is off). */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return spans.get(request);
}

/**
 * The path of a request target, without its query (which may carry a code or a token)
 * and with its credential segments redacted, as the logs have them.
 */
const pathOf = (url: string) => {
  const query = url.indexOf("?");
  return redactPath(query === -1 ? url : url.slice(0, query));
};

export function traceRequests(app: FastifyInstance, tracing: Tracing): void {
  if (!tracing.enabled) return;
  app.addHook("onRequest", (request, _reply, done) => {
    const userAgent = request.headers["user-agent"];
    const span = tracing.server(request.method, request.headers, {
      [ATTR.httpRequestMethod]: request.method,
      [ATTR.urlPath]: pathOf(request.url),
      [ATTR.urlScheme]: request.protocol,
      [ATTR.serverAddress]: request.hostname || undefined,
      [ATTR.serverPort]: request.port ?? undefined,
      [ATTR.clientAddress]: request.ip,
      [ATTR.userAgentOriginal]: typeof userAgent === "string" ? userAgent.slice(0, 256) : undefined,
      [APPGRANT_ATTR.requestId]: request.id,
    });
    spans.set(request, span);
    tracing.within(span, done);
  });
  app.addHook("preHandler", (request, _reply, done) => {
    const span = spans.get(request);
    if (span) tracing.within(span, done);
    else done();
  });
  const finish = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    const route = request.routeOptions.url;
    if (route !== undefined) {
      span.setAttribute(ATTR.httpRoute, route);
      span.updateName(`${request.method} ${route}`);
    }
    if (status === undefined) span.fail("aborted");
    else {
      span.setAttribute(ATTR.httpResponseStatusCode, status);
      if (status >= 500) span.fail(String(status));
    }
    span.end();
  };
  app.addHook("onResponse", async (request, reply) => finish(request, reply.statusCode));
  app.addHook("onRequestAbort", async (request) => finish(request, undefined));
}
