// What answering a consent means, whichever flow asked for it (an authorization request
// of /oauth/authorize, a device authorization of RFC 8628): the scopes the platform grants
// out of those requested, and the installation of the application into the user's account.
import { formatScopes, parseScopes, scopesOutside } from "../shared/scopes.js";
import type { DomainContext } from "./context.js";
import { conflict, invalid, isUniqueViolation } from "./errors.js";
import { lockedApplicationScopes, remainingPending } from "./installation-permissions.js";
import { activeInstallation, type InstallationWithApp } from "./installations.js";
import type { Tx } from "./ports.js";

/** The scopes granted: `chosen` (a subset of `requested`), by default all of `requested`. */
export function grantedScopes(requested: string, chosen: string[] | undefined): string[] {
  const asked = parseScopes(requested);
  const scopes = chosen ?? asked;
  if (scopes.length === 0) throw invalid("scopes: at least one scope is required");
  const outside = scopesOutside(scopes, asked);
  if (outside.length > 0) throw invalid(`scopes: not requested: ${outside.join(" ")}`);
  return scopes;
}

export function assertAccount(account: string): void {
  if (account.trim() === "") throw invalid("account: must not be blank");
}

/**
 * Inside the accept's transaction: the active installation of the application in
 * `account`, its scopes widened to what was just consented (no longer pending), or a
 * new one. Refused (409) when the application lost a consented scope since the request
 * was made, or when its installation in the account is suspended.
 */
export async function installForConsent(
  ctx: DomainContext,
  tx: Tx,
  input: { applicationId: string; account: string; scopes: string[] },
): Promise<{ installation: InstallationWithApp; created: boolean }> {
  const now = ctx.clock();
  // Locks the application row first: a change of its scopes cannot interleave (see installation-permissions.ts).
  const withdrawn = scopesOutside(input.scopes, (await lockedApplicationScopes(tx, input.applicationId)) ?? []);
  if (withdrawn.length > 0) throw conflict(`scopes: no longer allowed for this application: ${withdrawn.join(" ")}`);
  const include = { application: { select: { clientId: true, redirectUris: true } } } as const;
  const existing = await tx.installation.findFirst({ where: { applicationId: input.applicationId, activeAccount: input.account }, include });
  // A suspended installation issues nothing until it is unsuspended: its owner decides that, not a consent page.
  if (existing?.status === "suspended") throw conflict("the application's installation in this account is suspended");
  if (existing) {
    const widened = [...parseScopes(existing.scopes), ...input.scopes];
    const data = { scopes: formatScopes(widened), pendingScopes: remainingPending(existing.pendingScopes, widened) };
    return { installation: await tx.installation.update({ where: { id: existing.id }, data, include }), created: false };
  }
  const installation = await tx.installation.create({ data: activeInstallation(now, input), include });
  return { installation, created: true };
}

/**
 * Runs an accept (a transaction calling installForConsent). Two accepts for one
 * (application, account) at once: the second insert hits the unique index, and
 * running it again finds and reuses the first's installation.
 */
export async function retryingInstall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUniqueViolation(error)) return run();
    throw error;
  }
}
