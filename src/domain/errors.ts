// Failures the domain reports to its callers (admin API, CLI). HTTP knows nothing of
// them and they know nothing of HTTP: each caller maps the kind to its own shape.
export type DomainErrorKind = "invalid" | "not_found" | "conflict";

export class DomainError extends Error {
  override name = "DomainError";
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new DomainError("invalid", message);
export const notFound = (what: string) => new DomainError("not_found", `${what} not found`);
export const conflict = (message: string) => new DomainError("conflict", message);

/** Prisma's unique-constraint violation (P2002), whichever driver raised it. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}
