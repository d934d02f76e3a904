import type { FastifyReply } from "fastify";

export const errorSchema = {
  type: "object",
  properties: { error: { type: "string" }, error_description: { type: "string" } },
  required: ["error"],
} as const;

/** RFC 6749 §5.1: responses carrying tokens must not be cached; here every OAuth response is so marked. */
export function noStore(reply: FastifyReply): void {
  reply.header("Cache-Control", "no-store").header("Pragma", "no-cache");
}
