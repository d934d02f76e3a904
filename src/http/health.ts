import type { FastifyError, FastifyInstance } from "fastify";
import { adminErrorHandler } from "./admin/errors.js";
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseUnavailableError, isDatabaseUnavailable } from "../shared/database-unavailable.js";
import { ServiceUnavailableError } from "../shared/unavailable.js";
import type { BuildInfo } from "../shared/version.js";

const statusSchema = {
  type: "object",
  properties: { status: { type: "string" } },
  required: ["status"],
} as const;

export interface HealthOptions {
  /** What GET /version answers. */
  build: BuildInfo;
  /** Resolves once every connection of the database has answered (Prisma's and the token store's). */
  ping(): Promise<void>;
  /** ms within which /readyz answers, whatever the database does. */
  deadlineMs: number;
}

/** /healthz: the process is up. /readyz: the database answers. Neither needs auth or touches secrets. */
export async function health(app: FastifyInstance, options: HealthOptions): Promise<void> {
  // A probe's answer is {status}, a 503 included (a draining server): load balancers read the code.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!(error instanceof ServiceUnavailableError)) return adminErrorHandler(error, request, reply);
    if (error.retryAfter !== undefined) reply.header("Retry-After", String(error.retryAfter));
    return reply.code(503).send({ status: error.status });
  });
  const documented = { tags: ["health"], security: [] };
  app.get(
    "/version",
    {
      schema: {
        ...documented,
        operationId: "getVersion",
        summary: "What is running: name, version, and the commit when the build recorded one (APPGRANT_COMMIT).",
        response: {
          200: {
            type: "object",
            "x-response-description": "The build.",
            properties: { name: { type: "string" }, version: { type: "string" }, commit: { type: ["string", "null"] } },
            required: ["name", "version", "commit"],
          },
        },
      },
      logLevel: "warn",
    },
    async () => options.build,
  );
  app.get(
    "/healthz",
    {
      schema: {
        ...documented,
        operationId: "getHealth",
        summary: "The process is up.",
        response: { 200: { ...statusSchema, "x-response-description": 'Always `{"status":"ok"}` while the process serves requests.' } },
      },
      logLevel: "warn",
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        ...documented,
        operationId: "getReadiness",
        summary: "The database answers.",
        response: {
          200: { ...statusSchema, "x-response-description": '`{"status":"ready"}`: the database answered a query.' },
          503: {
            ...statusSchema,
            "x-response-description":
              '`{"status":"database unreachable"}`: the database did not answer within APPGRANT_READY_TIMEOUT (with `Retry-After`).',
          },
        },
      },
      logLevel: "warn",
    },
    async (request, reply) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new DatabaseUnavailableError(`no answer within ${options.deadlineMs} ms`)), options.deadlineMs);
      });
      try {
        await Promise.race([options.ping(), late]);
        return { status: "ready" };
      } catch (error) {
        // An outage is logged once, by the database's status, from the calls that failed
        // (the ping's own, when it gives up). This deadline is only the probe's: a process
        // too busy to answer in time is not ready, but that is no database outage.
        if (!isDatabaseUnavailable(error)) request.log.error({ err: error }, "readiness check failed");
        return reply.code(503).header("Retry-After", String(DATABASE_RETRY_AFTER_SECONDS)).send({ status: "database unreachable" });
      } finally {
        clearTimeout(timer);
      }
    },
  );
}
