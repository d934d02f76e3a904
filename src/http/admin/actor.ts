// Who an admin request acts as: every change it makes is recorded (src/domain/events.ts)
// with the admin credential's id, the request id and the caller's address. The id names
// the credential without revealing it: a hash prefix too short to help a guesser, long
// enough to tell two tokens apart after a rotation.
import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { type DomainContext, withActor } from "../../domain/context.js";

const ids = new Map<string, string>();

/** "admin:" and the first 12 hex characters of the SHA-256 of the admin token. */
export function adminCredentialId(token: string): string {
  let id = ids.get(token);
  if (id === undefined) {
    id = `admin:${createHash("sha256").update(token).digest("hex").slice(0, 12)}`;
    ids.clear(); // one token per process, or a test's few: keep only the latest
    ids.set(token, id);
  }
  return id;
}

/** The app's domain context acting for the admin behind `request` (authenticated by the admin plugin's hook). */
export function asAdmin(request: FastifyRequest): DomainContext {
  const { domain, config } = request.server;
  return withActor(domain, { type: "admin", id: adminCredentialId(config.adminToken ?? ""), requestId: request.id, sourceIp: request.ip });
}
