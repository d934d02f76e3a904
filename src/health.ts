import type { FastifyInstance } from "fastify";

const statusSchema = {
  type: "object",
  properties: { status: { type: "string" } },
  required: ["status"],
} as const;

/** /healthz: the process is up. /readyz: the database answers. Neither needs auth or touches secrets. */
export async function health(app: FastifyInstance): Promise<void> {
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
