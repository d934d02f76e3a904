import type { FastifyError, FastifyInstance } from "fastify";
import { adminErrorHandler } from "./admin/errors.js";
import { ServiceUnavailableError } from "./unavailable.js";

const statusSchema = {
  type: "object",
  properties: { status: { type: "string" } },
  required: ["status"],
} as const;

/** /healthz: the process is up. /readyz: the database answers. Neither needs auth or touches secrets. */
export async function health(app: FastifyInstance): Promise<void> {
  // A probe's answer is {status}, a 503 included (a draining server): load balancers read the code.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!(error instanceof ServiceUnavailableError)) return adminErrorHandler(error, request, reply);
    if (error.retryAfter !== undefined) reply.header("Retry-After", String(error.retryAfter));
    return reply.code(503).send({ status: error.status });
  });
  app.get("/healthz", { schema: { response: { 200: statusSchema } }, logLevel: "warn" }, async () => ({ status: "ok" }));

  app.get(
    "/readyz",
    { schema: { response: { 200: statusSchema, 503: statusSchema } }, logLevel: "warn" },
    async (request, reply) => {
      try {
        await app.domain.db.$queryRawUnsafe("SELECT 1");
        return { status: "ready" };
      } catch (error) {
        request.log.error({ err: error }, "readiness check: database unreachable");
        return reply.code(503).send({ status: "database unreachable" });
      }
    },
  );
}
