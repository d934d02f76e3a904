// Request ids: one per request, taken from an incoming X-Request-Id when it is a sane
// token (a proxy or the client chose it, so a support ticket and the logs share it),
// otherwise generated. It is echoed on every response (X-Request-Id), carried by every
// log line of the request (Fastify's child logger, `reqId`), written into admin API
// error bodies (`request_id`) and recorded in the events the request causes.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";

export const REQUEST_ID_HEADER = "x-request-id";

/** Printable, no spaces or quotes, at most 128 characters: safe in a header, a log line and a JSON string. */
const ACCEPTABLE = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;

/** Fastify's genReqId: the caller's id if acceptable, else a random UUID. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  return typeof incoming === "string" && ACCEPTABLE.test(incoming) ? incoming : randomUUID();
}

/** Echoes the id on every response, set first so that errors and 404s carry it too. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook("onRequest", async (request, reply) => {
    reply.header("X-Request-Id", request.id);
  });
}
