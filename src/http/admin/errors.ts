// The admin API's one error shape: {statusCode, code, error, message, request_id}.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { STATUS_CODES } from "node:http";
import { DomainError } from "../../domain/errors.js";
import { asUnavailable } from "../../shared/unavailable.js";

export function adminError(reply: FastifyReply, statusCode: number, code: string, message: string) {
  return reply.code(statusCode).send({ statusCode, code, error: STATUS_CODES[statusCode] ?? "Error", message, request_id: reply.request.id });
}

const DOMAIN_STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const;

export function adminErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof DomainError) {
    return adminError(reply, DOMAIN_STATUS[error.kind], error.kind === "invalid" ? "invalid_request" : error.kind, error.message);
  }
  if (error.validation) {
    return adminError(reply, 400, "invalid_request", error.message);
  }
  const unavailable = asUnavailable(error);
  if (unavailable) {
    if (unavailable.retryAfter !== undefined) reply.header("Retry-After", String(unavailable.retryAfter));
    return adminError(reply, 503, unavailable.code, unavailable.message);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, wrong content type, body too large): their text is safe.
    return adminError(reply, status, "invalid_request", error.message);
  }
  request.log.error({ err: error }, "admin API request failed");
  return adminError(reply, 500, "server_error", "internal error; see the server log");
}
