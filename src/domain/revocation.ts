// Revocation as bulk conditional writes: one statement per kind of thing, inside the
// caller's transaction, touching only what is still live (so the first revocation's
// time and reason are kept).
import type { Tx } from "./ports.js";

export async function revokeInstallationCredentials(tx: Tx, installationId: string, now: Date): Promise<void> {
  await tx.authorizationCode.updateMany({
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
