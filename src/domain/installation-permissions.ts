// Changes of an application's scopes, as they reach its installations (GitHub's "new
// permissions"): a widening is only a request — every installation keeps its scopes and
// gets the new ones as `pendingScopes`, which its owner accepts or rejects; a narrowing
// takes effect at once — every installation, pending code and live token loses the
// removed scopes, in the transaction that changes the application.
//
// Ordering, without raw SQL or extra locks on the token endpoint:
// - everything that sets an installation's scopes (creating one, accepting an
//   authorization request or a permission request, changing the application's scopes)
//   first locks the application row with a write of the value it has
//   (lockedApplicationScopes), so they happen one after the other;
// - the token endpoint issues only in a statement that holds the installation row FOR
//   SHARE (PostgreSQL) or the write lock (SQLite), and only while the row it derives
//   from (the code, the parent token, the installation) still has the scopes it read.
//   A narrowing updates the installations first: a token statement already under way
//   commits before that update and its token is narrowed next; a later one finds its
//   row's scopes changed and issues nothing (the grant reads again and retries).
import type { Installation } from "../generated/prisma/client.js";
import { formatScopes, parseScopes, scopesOutside } from "../shared/scopes.js";
import type { DomainContext } from "./context.js";
import { conflict, notFound } from "./errors.js";
import { type EventInput, recordEvent, recordEvents } from "./events.js";
import { type InstallationWithApp, withApp } from "./installations.js";
import type { Tx } from "./ports.js";
import { installationJson } from "./views.js";

/** Ids per `in` list: far below either database's limit on a statement's parameters. */
const CHUNK = 500;
const LIVE = { status: { in: ["active", "suspended"] } };

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** `pending` without the scopes now granted, as stored: null when nothing is left. */
export function remainingPending(pending: string | null, granted: Iterable<string>): string | null {
  const left = scopesOutside(parseScopes(pending ?? ""), granted);
  return left.length === 0 ? null : formatScopes(left);
}

/** `scopes` (as stored) without `removed`; the order of the rest is kept. */
const without = (scopes: string, removed: ReadonlySet<string>) => formatScopes(parseScopes(scopes).filter((scope) => !removed.has(scope)));

/**
 * The application's scopes, with its row locked until the transaction ends: a write of
 * the value it has. On PostgreSQL a concurrent change of the scopes makes this wait and
 * then match nothing, and it reads again. Null when there is no such application.
 */
export async function lockedApplicationScopes(tx: Tx, applicationId: string): Promise<string[] | null> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const application = await tx.application.findUnique({ where: { id: applicationId }, select: { scopes: true } });
    if (!application) return null;
    const { scopes } = application;
    const { count } = await tx.application.updateMany({ where: { id: applicationId, scopes }, data: { scopes } });
    if (count === 1) return parseScopes(scopes);
  }
  throw conflict("the application's scopes are being changed; retry");
}

export interface ScopeChange {
  /** Installations that got a permission request (widening). */
  requested: number;
  /** Installations, pending codes and live tokens whose scopes shrank (narrowing). */
  narrowed: { installations: number; codes: number; tokens: number; device_authorizations: number };
}

/**
 * Applies a change of the application's scopes from `before` to `after` to its
 * installations, inside the transaction that made it, after lockedApplicationScopes.
 */
export async function changeInstallationScopes(
  ctx: DomainContext,
  tx: Tx,
  applicationId: string,
  before: readonly string[],
  after: readonly string[],
): Promise<ScopeChange> {
  const removed = scopesOutside(before, after);
  const added = scopesOutside(after, before);
  const change: ScopeChange = { requested: 0, narrowed: { installations: 0, codes: 0, tokens: 0, device_authorizations: 0 } };
  if (removed.length > 0) change.narrowed = await narrow(tx, applicationId, new Set(removed));
  if (added.length > 0) change.requested = await requestPermissions(ctx, tx, applicationId, added);
  return change;
}

/**
 * Every installation, pending code, unrevoked token and unexchanged device authorization
 * (what it asks for and, once accepted, what it grants) of the application loses `removed`.
 */
async function narrow(tx: Tx, applicationId: string, removed: ReadonlySet<string>): Promise<ScopeChange["narrowed"]> {
  const touches = (scopes: string | null) => parseScopes(scopes ?? "").some((scope) => removed.has(scope));
  // Installations first (see the top of this file): one write per distinct new (scopes, pending) pair.
  const live = await tx.installation.findMany({ where: { applicationId, ...LIVE }, select: { id: true, scopes: true, pendingScopes: true } });
  const writes = new Map<string, { scopes: string; pendingScopes: string | null; ids: string[] }>();
  for (const installation of live) {
    if (!touches(installation.scopes) && !touches(installation.pendingScopes)) continue;
    const scopes = without(installation.scopes, removed);
    const pendingScopes = installation.pendingScopes === null ? null : without(installation.pendingScopes, removed) || null;
    const key = JSON.stringify([scopes, pendingScopes]);
    const write = writes.get(key) ?? { scopes, pendingScopes, ids: [] };
    write.ids.push(installation.id);
    writes.set(key, write);
  }
  let installations = 0;
  for (const { ids: all, ...data } of writes.values()) {
    for (const ids of chunks(all)) installations += (await tx.installation.updateMany({ where: { id: { in: ids } }, data })).count;
  }
  // A code or token holds a subset of its installation's scopes: only those of the
  // installations that had a removed scope can hold one.
  const affected = live.filter((installation) => touches(installation.scopes)).map((installation) => installation.id);
  let codes = 0;
  let tokens = 0;
  for (const ids of chunks(affected)) {
    const codeWhere = { installationId: { in: ids }, consumedAt: null, revokedAt: null };
    for (const { scopes } of await tx.authorizationCode.groupBy({ by: ["scopes"], where: codeWhere })) {
      if (touches(scopes))
        codes += (await tx.authorizationCode.updateMany({ where: { ...codeWhere, scopes }, data: { scopes: without(scopes, removed) } })).count;
    }
    const tokenWhere = { installationId: { in: ids }, revokedAt: null };
    for (const { scopes } of await tx.token.groupBy({ by: ["scopes"], where: tokenWhere })) {
      if (touches(scopes))
        tokens += (await tx.token.updateMany({ where: { ...tokenWhere, scopes }, data: { scopes: without(scopes, removed) } })).count;
    }
  }
  // The device grant exchanges only with the granted scopes it read (a narrowing meanwhile: it reads again).
  const deviceWhere = { applicationId, consumedAt: null };
  let devices = 0;
  for (const { scopes, grantedScopes } of await tx.deviceAuthorization.groupBy({ by: ["scopes", "grantedScopes"], where: deviceWhere })) {
    if (!touches(scopes) && !touches(grantedScopes)) continue;
    const data = { scopes: without(scopes, removed), grantedScopes: grantedScopes === null ? null : without(grantedScopes, removed) };
    devices += (await tx.deviceAuthorization.updateMany({ where: { ...deviceWhere, scopes, grantedScopes }, data })).count;
  }
  return { installations, codes, tokens, device_authorizations: devices };
}

/** Every installation of the application gets `added` as pending scopes, and its event. */
async function requestPermissions(ctx: DomainContext, tx: Tx, applicationId: string, added: readonly string[]): Promise<number> {
  const combinations = await tx.installation.groupBy({ by: ["pendingScopes"], where: { applicationId, ...LIVE } });
  for (const { pendingScopes } of combinations) {
    await tx.installation.updateMany({
      where: { applicationId, ...LIVE, pendingScopes },
      data: { pendingScopes: formatScopes([...parseScopes(pendingScopes ?? ""), ...added]) },
    });
  }
  const installations = await tx.installation.findMany({ where: { applicationId, ...LIVE }, include: withApp, orderBy: { id: "asc" } });
  const events: EventInput[] = installations.map((installation) => ({
    type: "installation.new_permissions_requested",
    applicationId,
    installationId: installation.id,
    data: { installation: installationJson(installation), requested_scopes: added },
  }));
  await recordEvents(ctx, tx, events);
  return installations.length;
}

/** Loads the installation whose permission request is answered; uninstalled or with nothing pending: conflict. */
async function pendingRequest(tx: Tx, id: string): Promise<Installation & { pending: string[] }> {
  const installation = await tx.installation.findUnique({ where: { id } });
  if (!installation) throw notFound("installation");
  if (installation.status === "uninstalled") throw conflict("installation is uninstalled");
  const pending = parseScopes(installation.pendingScopes ?? "");
  if (pending.length === 0) throw conflict("installation has no pending permission request");
  return { ...installation, pending };
}

/**
 * Answers an installation's permission request: accepting grants the pending scopes,
 * rejecting drops them; either way nothing is pending afterwards.
 */
export async function answerPermissionRequest(ctx: DomainContext, id: string, accept: boolean): Promise<InstallationWithApp> {
  return ctx.transaction(async (tx) => {
    const { applicationId } = (await tx.installation.findUnique({ where: { id }, select: { applicationId: true } })) ?? {};
    if (!applicationId) throw notFound("installation");
    const allowed = accept ? await lockedApplicationScopes(tx, applicationId) : null;
    const current = await pendingRequest(tx, id);
    const granted = allowed === null ? current.pending : current.pending.filter((scope) => allowed.includes(scope));
    // Conditional on what was read: a concurrent answer makes this one a conflict.
    const { count } = await tx.installation.updateMany({
      where: { id, scopes: current.scopes, pendingScopes: current.pendingScopes, ...LIVE },
      data: accept ? { scopes: formatScopes([...parseScopes(current.scopes), ...granted]), pendingScopes: null } : { pendingScopes: null },
    });
    if (count !== 1) throw conflict("the installation's permission request was answered meanwhile");
    const installation = await tx.installation.findUniqueOrThrow({ where: { id }, include: withApp });
    await recordEvent(ctx, tx, {
      type: accept ? "installation.new_permissions_accepted" : "installation.new_permissions_rejected",
      applicationId,
      installationId: id,
      data: { installation: installationJson(installation), ...(accept ? { accepted_scopes: granted } : { rejected_scopes: current.pending }) },
    });
    return installation;
  });
}
