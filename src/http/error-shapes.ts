// Errors that no context's own handler sees, answered in the shape of the endpoint the
// request was meant for: the router's (a path that is not percent-encoded UTF-8, a
// path parameter over the router's limit), the HTTP parser's (oversized headers, a
// broken request line), and everything outside the admin API and the OAuth endpoints
// (unknown paths, health, discovery). The admin API's {statusCode, code, error,
// message} is the server's general shape; /oauth/* answers RFC 6749 errors and its
// browser-facing /oauth/authorize an HTML page; the GitHub-compatible /app/* answers
// GitHub's {message}.
//
// Before routing there is no context to ask, only the path: that is why these few
// choose by prefix (the contexts themselves never do).
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { adminError, adminErrorHandler } from "./admin/errors.js";
import { errorPage, errorPageHtml } from "./oauth/authorize-route.js";

type Shape = "admin" | "oauth" | "page" | "github";

function shapeOf(path: string): Shape {
  if (path.startsWith("/oauth/authorize")) return "page";
  if (path === "/app" || path.startsWith("/app/") || path.startsWith("/app?")) return "github";
  return path === "/oauth" || path.startsWith("/oauth/") || path.startsWith("/oauth?") ? "oauth" : "admin";
}

function oauthBody(description: string, error = "invalid_request"): string {
  return JSON.stringify({ error, error_description: description });
}

function adminBody(status: number, message: string, requestId: string): string {
  return JSON.stringify({ statusCode: status, code: "invalid_request", error: STATUS_CODES[status] ?? "Error", message, request_id: requestId });
}

/** Fastify's frameworkErrors: the router refused the URL before any route (or context) was chosen. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const [status, message] =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? [414, "a path parameter is too long"]
      : error.code === "FST_ERR_BAD_URL"
        ? [400, "the URL path is not valid percent-encoded UTF-8"]
        : [500, "internal error; see the server log"];
  if (status === 500) request.log.error({ err: error }, "router failure");
  else request.log.info({ code: error.code, status }, "request refused before routing");
  const shape = shapeOf(request.url);
  const code = status === 500 ? "server_error" : "invalid_request";
  // Refused before any hook ran: the id is echoed here (src/http/request-id.ts does it for routed requests).
  reply.header("Cache-Control", "no-store").header("Pragma", "no-cache").header("X-Request-Id", request.id);
  if (shape === "page") void errorPage(reply, status, code, message);
  else if (shape === "oauth") void reply.code(status).type("application/json").send(oauthBody(message, code));
  else if (shape === "github") void reply.code(status).type("application/json").send(JSON.stringify({ message }));
  else void adminError(reply, status, code, message);
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, "the request's headers (or its URL) are too large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "the request took too long to arrive"],
};

/**
 * Fastify's clientErrorHandler: Node's HTTP parser refused the request, so there is
 * no request object, only the bytes read (for the path, to choose the shape).
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer (as Fastify's default handler).
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] = CLIENT_ERRORS[error.code ?? ""] ?? [400, "the request is not valid HTTP/1.1"];
  const packet: unknown = (error as { rawPacket?: unknown }).rawPacket;
  const path = /^[A-Z]+ (\S+)/.exec(Buffer.isBuffer(packet) ? packet.subarray(0, 4096).toString("latin1") : "")?.[1] ?? "/";
  const shape = shapeOf(path);
  // No request object exists, so no id was given one: this answer gets its own.
  const requestId = randomUUID();
  const body =
    shape === "admin"
      ? adminBody(status, message, requestId)
      : shape === "oauth"
        ? oauthBody(message)
        : shape === "github"
          ? JSON.stringify({ message })
          : errorPageHtml("invalid_request", message);
  const type = shape === "page" ? "text/html" : "application/json";
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${type}; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** The root context's handlers: health, discovery and unknown paths answer in the admin API's shape. */
export function rootErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(adminErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    adminError(reply, 404, "not_found", `no route ${request.method} ${request.url.split("?")[0]!.slice(0, 200)}`),
  );
}
