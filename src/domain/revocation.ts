// Revocation as bulk conditional writes: one statement per kind of thing, inside the
// caller's transaction, touching only what is still live (so the first revocation's
// time and reason are kept).
import type { Tx } from "../db/client.js";

export type RevocationReason =
  | "uninstalled"
  | "application_deleted"
  | "code_reused"
  | "refresh_reused"
  | "revoked";

export async function revokeInstallationCredentials(tx: Tx, installationId: string, now: Date): Promise<void> {
  await tx.grant.updateMany({
    where: { installationId, consumedAt: null, revokedAt: null },
    data: { revokedAt: now },
  });
  await tx.token.updateMany({
    where: { installationId, revokedAt: null },
    data: { revokedAt: now, revokedReason: "uninstalled" },
  });
}

export async function revokeApplicationTokens(tx: Tx, applicationId: string, now: Date): Promise<void> {
  await tx.token.updateMany({
    where: { applicationId, revokedAt: null },
    data: { revokedAt: now, revokedReason: "application_deleted" },
  });
}

/** Every token descending from one grant. Returns how many were still live. */
export async function revokeFamily(tx: Tx, familyId: string, now: Date, reason: RevocationReason): Promise<number> {
  const { count } = await tx.token.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: now, revokedReason: reason },
  });
  return count;
}
