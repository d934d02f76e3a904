// Installations: an application installed into an account, and the authorization
// code each installation receives.
import { generateCredential, sha256 } from "../crypto/tokens.js";
import type { Tx } from "./ports.js";
import { newId } from "../shared/ids.js";
import type { Application, AuthorizationCode, Installation, Prisma } from "../generated/prisma/client.js";
import { addSeconds, type DomainContext } from "./context.js";
import { conflict, invalid, isUniqueViolation, notFound } from "./errors.js";
import { type Page, type PageRequest, pageArgs, toPage } from "./pagination.js";
import { revokeInstallationCredentials } from "./revocation.js";
import { formatScopes, parseList, scopesOutside } from "../shared/scopes.js";
import { withQuery } from "../shared/url.js";
import { recordEvent } from "./events.js";
import { lockedApplicationScopes } from "./installation-permissions.js";
import { installationJson } from "./views.js";

export const INSTALLATION_STATUSES = ["active", "suspended", "uninstalled"] as const;
export type InstallationStatus = (typeof INSTALLATION_STATUSES)[number];

export type InstallationWithApp = Installation & { application: Pick<Application, "clientId" | "redirectUris"> };

export interface IssuedCode {
  authorizationCode: AuthorizationCode;
  /** The plaintext code: returned once, to the caller that created it; only its hash is stored. */
  code: string;
}

export interface CreatedInstallation extends IssuedCode {
  installation: InstallationWithApp;
  /** Where the platform sends the user's browser, when the application has exactly one redirect URI. */
  redirectTo: string | null;
}

export const withApp = { application: { select: { clientId: true, redirectUris: true } } } as const;

export interface CodeOptions {
  scopes: string;
  redirectUri?: string | null;
  codeChallenge?: string | null;
  codeChallengeMethod?: string | null;
}

/** Creates an authorization code for an installation, inside the caller's transaction. */
export async function createAuthorizationCode(
  ctx: DomainContext,
  tx: Tx,
  installation: Pick<Installation, "id" | "applicationId">,
  options: CodeOptions,
): Promise<IssuedCode> {
  const code = generateCredential("code");
  const now = ctx.clock();
  const authorizationCode = await tx.authorizationCode.create({
    data: {
      id: newId(now.getTime()),
      codeHash: sha256(code),
      applicationId: installation.applicationId,
      installationId: installation.id,
      scopes: options.scopes,
      redirectUri: options.redirectUri ?? null,
      codeChallenge: options.codeChallenge ?? null,
      codeChallengeMethod: options.codeChallengeMethod ?? null,
      createdAt: now,
      expiresAt: addSeconds(now, ctx.config.codeLifetime),
    },
  });
  return { authorizationCode, code };
}

export function installationRedirect(
  redirectUris: string,
  params: { code: string; installationId: string; account: string; issuer: string },
): string | null {
  const uris = parseList(redirectUris);
  if (uris.length !== 1) return null;
  return withQuery(uris[0]!, {
    code: params.code,
    installation_id: params.installationId,
    account: params.account,
    // RFC 9207: clients that check the issuer of authorization responses accept this one too.
    iss: params.issuer,
  });
}

/**
 * installation.created, in the transaction that created the installation and its code:
 * the code travels in the webhook (sealed in the delivery row, sent while it is valid),
 * never in the event. Without a code when the installation's tokens went elsewhere (a
 * device authorization's go to the device that polls for them).
 */
export async function recordInstallationCreated(ctx: DomainContext, tx: Tx, installation: InstallationWithApp, issued?: IssuedCode): Promise<void> {
  await recordEvent(
    ctx,
    tx,
    {
      type: "installation.created",
      applicationId: installation.applicationId,
      installationId: installation.id,
      data: { installation: installationJson(installation) },
    },
    issued && { value: issued.code, id: issued.authorizationCode.id, expiresAt: issued.authorizationCode.expiresAt },
  );
}

/** The row of a new, active installation. */
export function activeInstallation(now: Date, input: { applicationId: string; account: string; scopes: string[] }) {
  return {
    id: newId(now.getTime()),
    applicationId: input.applicationId,
    account: input.account,
    activeAccount: input.account,
    scopes: formatScopes(input.scopes),
    status: "active",
    createdAt: now,
  };
}

export async function createInstallation(
  ctx: DomainContext,
  input: { clientId: string; account: string; scopes?: string[] | undefined },
): Promise<CreatedInstallation> {
  if (input.account.trim() === "") throw invalid("account: must not be blank");
  const application = await ctx.db.application.findUnique({ where: { clientId: input.clientId } });
  if (!application) throw notFound("application");
  if (input.scopes?.length === 0) throw invalid("scopes: at least one scope is required");

  const now = ctx.clock();
  try {
    return await ctx.transaction(async (tx) => {
      // Under the application's lock: a concurrent change of its scopes comes before or after, whole.
      const allowed = (await lockedApplicationScopes(tx, application.id)) ?? [];
      const scopes = input.scopes ?? allowed;
      if (scopes.length === 0) throw invalid("scopes: at least one scope is required");
      const outside = scopesOutside(scopes, allowed);
      if (outside.length > 0) throw invalid(`scopes: not allowed for this application: ${outside.join(" ")}`);
      const installation = await tx.installation.create({
        data: activeInstallation(now, { applicationId: application.id, account: input.account, scopes }),
        include: withApp,
      });
      const issued = await createAuthorizationCode(ctx, tx, installation, { scopes: installation.scopes });
      await recordInstallationCreated(ctx, tx, installation, issued);
      const redirectTo = installationRedirect(application.redirectUris, {
        code: issued.code,
        installationId: installation.id,
        account: installation.account,
        issuer: ctx.config.issuer,
      });
      return { installation, ...issued, redirectTo };
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw conflict(`application ${input.clientId} already has an active installation in account ${input.account} (or a suspended one)`);
    }
    throw error;
  }
}

export async function getInstallation(ctx: DomainContext, id: string): Promise<InstallationWithApp> {
  const installation = await ctx.db.installation.findUnique({ where: { id }, include: withApp });
  if (!installation) throw notFound("installation");
  return installation;
}

/** The installation's code while it can still be exchanged: unexpired, unconsumed, unrevoked. */
export async function pendingCode(ctx: DomainContext, installationId: string): Promise<AuthorizationCode | null> {
  return ctx.db.authorizationCode.findFirst({
    where: { installationId, consumedAt: null, revokedAt: null, expiresAt: { gt: ctx.clock() } },
    orderBy: { id: "desc" },
  });
}

export interface InstallationFilter {
  clientId?: string | undefined;
  account?: string | undefined;
  status?: InstallationStatus | undefined;
}

export async function listInstallations(ctx: DomainContext, filter: InstallationFilter, page: PageRequest): Promise<Page<InstallationWithApp>> {
  const args = pageArgs(page);
  const where: Prisma.InstallationWhereInput = {
    ...args.where,
    ...(filter.clientId !== undefined ? { application: { clientId: filter.clientId } } : {}),
    ...(filter.account !== undefined ? { account: filter.account } : {}),
    ...(filter.status !== undefined ? { status: filter.status } : {}),
  };
  return toPage(await ctx.db.installation.findMany({ ...args, where, include: withApp }), page);
}

/**
 * Uninstalls: the installation stops being active and every code and token issued
 * to it is revoked, in one transaction. Uninstalling twice changes nothing.
 */
export async function uninstall(ctx: DomainContext, id: string): Promise<{ installation: InstallationWithApp; changed: boolean }> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    const existing = await tx.installation.findUnique({ where: { id }, select: { id: true } });
    if (!existing) throw notFound("installation");
    const { count } = await tx.installation.updateMany({
      where: { id, status: { in: ["active", "suspended"] } },
      data: { status: "uninstalled", activeAccount: null, uninstalledAt: now, suspendedAt: null, suspensionReason: null, pendingScopes: null },
    });
    await revokeInstallationCredentials(tx, id, now);
    const installation = await tx.installation.findUniqueOrThrow({ where: { id }, include: withApp });
    if (count === 1) {
      await recordEvent(ctx, tx, {
        type: "installation.deleted",
        applicationId: installation.applicationId,
        installationId: id,
        data: { installation: installationJson(installation) },
      });
    }
    return { installation, changed: count === 1 };
  });
}

/**
 * Issues a fresh code for an active installation (the first one was lost, or
 * expired before the app exchanged it). Earlier unexchanged codes are revoked, so
 * at most one code per installation is ever pending.
 */
export async function reissueCode(ctx: DomainContext, id: string): Promise<IssuedCode & { installation: InstallationWithApp }> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    const installation = await tx.installation.findUnique({ where: { id }, include: withApp });
    if (!installation) throw notFound("installation");
    if (installation.status !== "active") throw conflict(`installation is ${installation.status}`);
    await tx.authorizationCode.updateMany({
      where: { installationId: id, consumedAt: null, revokedAt: null },
      data: { revokedAt: now },
    });
    const issued = await createAuthorizationCode(ctx, tx, installation, { scopes: installation.scopes });
    await recordEvent(
      ctx,
      tx,
      {
        type: "installation.code_reissued",
        applicationId: installation.applicationId,
        installationId: id,
        data: { installation: installationJson(installation) },
      },
      { value: issued.code, id: issued.authorizationCode.id, expiresAt: issued.authorizationCode.expiresAt },
    );
    return { installation, ...issued };
  });
}

/**
 * An application's installations that are not uninstalled (active or suspended, as GitHub
 * lists them), oldest first, a numbered page at a time (GitHub's `per_page`/`page`).
 */
export function listActiveInstallations(
  ctx: DomainContext,
  applicationId: string,
  page: { perPage: number; page: number },
): Promise<{ id: string; account: string; scopes: string; createdAt: Date; suspendedAt: Date | null }[]> {
  return ctx.db.installation.findMany({
    where: { applicationId, status: { in: ["active", "suspended"] } },
    select: { id: true, account: true, scopes: true, createdAt: true, suspendedAt: true },
    orderBy: { id: "asc" },
    skip: (page.page - 1) * page.perPage,
    take: page.perPage,
  });
}
