// Schema failures as one sentence naming the field, e.g. `body/redirect_uris must be array`
// or `body has unknown property "redirect_uri"`.
import type { FastifySchemaValidationError } from "fastify/types/schema.js";

export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  if (!first) return new Error(`${dataVar} is invalid`);
  const where = `${dataVar}${first.instancePath}`;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === "additionalProperties") return new Error(`${where} has unknown property "${String(params.additionalProperty)}"`);
  if (first.keyword === "required") return new Error(`${where}/${String(params.missingProperty)} is required`);
  return new Error(`${where} ${first.message ?? "is invalid"}`);
}
