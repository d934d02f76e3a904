// Pending /oauth/authorize requests (the headless, Ory Hydra model): appgrant
// validates and stores the request; the platform authenticates the user, picks the
// account and accepts or rejects through the admin API. A request is answered once.
import { newId } from "../shared/ids.js";
import type { Application, AuthorizationRequest } from "../generated/prisma/client.js";
import { addSeconds, type DomainContext } from "./context.js";
import { conflict, invalid, isUniqueViolation, notFound } from "./errors.js";
import { recordEvent } from "./events.js";
import { createAuthorizationCode, type InstallationWithApp, recordInstallationCreated } from "./installations.js";
import { withQuery } from "../shared/url.js";
import { formatScopes, parseScopes, scopesOutside } from "../shared/scopes.js";
import { lockedApplicationScopes, remainingPending } from "./installation-permissions.js";

export const AUTHORIZATION_REQUEST_LIFETIME = 600;

export type AuthorizationRequestWithApp = AuthorizationRequest & { application: Pick<Application, "clientId" | "name"> };

export interface NewAuthorizationRequest {
  applicationId: string;
  redirectUri: string;
  redirectUriSent: boolean;
  scopes: string[];
  state: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
}

export async function createAuthorizationRequest(ctx: DomainContext, input: NewAuthorizationRequest): Promise<AuthorizationRequest> {
  const now = ctx.clock();
  return ctx.transaction((tx) =>
    tx.authorizationRequest.create({
      data: {
        id: newId(now.getTime()),
        ...input,
        scopes: formatScopes(input.scopes),
        createdAt: now,
        expiresAt: addSeconds(now, AUTHORIZATION_REQUEST_LIFETIME),
      },
    }),
  );
}

const withApp = { application: { select: { clientId: true, name: true } } } as const;

export async function getAuthorizationRequest(ctx: DomainContext, id: string): Promise<AuthorizationRequestWithApp> {
  const request = await ctx.db.authorizationRequest.findUnique({ where: { id }, include: withApp });
  if (!request) throw notFound("authorization request");
  return request;
}

function assertAnswerable(request: AuthorizationRequest, now: Date): void {
  if (request.status !== "pending") throw conflict(`authorization request was already ${request.status}`);
  if (request.expiresAt <= now) throw conflict("authorization request has expired");
}

export interface Accepted {
  redirectTo: string;
  installation: InstallationWithApp;
  /** True when accepting created the installation (rather than reusing the active one). */
  created: boolean;
  code: string;
}

/**
 * Accepts: creates the installation for (application, account) or reuses the active
 * one (widening its scopes to what was just consented), issues a code bound to the
 * request's redirect_uri and PKCE challenge, and returns where to send the browser.
 */
export async function acceptAuthorizationRequest(
  ctx: DomainContext,
  id: string,
  input: { account: string; scopes?: string[] | undefined },
): Promise<Accepted> {
  if (input.account.trim() === "") throw invalid("account: must not be blank");
  const now = ctx.clock();
  const run = () =>
    ctx.transaction(async (tx) => {
      const request = await tx.authorizationRequest.findUnique({ where: { id } });
      if (!request) throw notFound("authorization request");
      assertAnswerable(request, now);
      const requested = parseScopes(request.scopes);
      const scopes = input.scopes ?? requested;
      if (scopes.length === 0) throw invalid("scopes: at least one scope is required");
      const outside = scopesOutside(scopes, requested);
      if (outside.length > 0) throw invalid(`scopes: not requested: ${outside.join(" ")}`);
      // The application may have lost a scope since the request was made.
      const withdrawn = scopesOutside(scopes, (await lockedApplicationScopes(tx, request.applicationId)) ?? []);
      if (withdrawn.length > 0) throw conflict(`scopes: no longer allowed for this application: ${withdrawn.join(" ")}`);

      // The one conditional write that makes the request single-use.
      const { count } = await tx.authorizationRequest.updateMany({
        where: { id, status: "pending", expiresAt: { gt: now } },
        data: { status: "accepted", completedAt: now },
      });
      if (count !== 1) throw conflict("authorization request was already answered");

      const include = { application: { select: { clientId: true, redirectUris: true } } } as const;
      const existing = await tx.installation.findFirst({
        where: { applicationId: request.applicationId, activeAccount: input.account },
        include,
      });
      // A suspended installation issues nothing until it is unsuspended: its owner decides that, not a consent page.
      if (existing?.status === "suspended") throw conflict("the application's installation in this account is suspended");
      const widened = existing ? [...parseScopes(existing.scopes), ...scopes] : [];
      const installation = existing
        ? await tx.installation.update({
            where: { id: existing.id },
            // Scopes consented to here are granted: they are no longer pending.
            data: { scopes: formatScopes(widened), pendingScopes: remainingPending(existing.pendingScopes, widened) },
            include,
          })
        : await tx.installation.create({
            data: {
              id: newId(now.getTime()),
              applicationId: request.applicationId,
              account: input.account,
              activeAccount: input.account,
              scopes: formatScopes(scopes),
              status: "active",
              createdAt: now,
            },
            include,
          });
      await tx.authorizationRequest.update({ where: { id }, data: { installationId: installation.id } });
      const issued = await createAuthorizationCode(ctx, tx, installation, {
        scopes: formatScopes(scopes),
        redirectUri: request.redirectUriSent ? request.redirectUri : null,
        codeChallenge: request.codeChallenge,
        codeChallengeMethod: request.codeChallengeMethod,
      });
      const { code } = issued;
      if (!existing) await recordInstallationCreated(ctx, tx, installation, issued);
      await recordEvent(ctx, tx, {
        type: "authorization_request.accepted",
        applicationId: request.applicationId,
        installationId: installation.id,
        data: { authorization_request_id: id, account: input.account, scopes, installation_created: !existing },
      });
      const redirectTo = withQuery(request.redirectUri, { code, state: request.state, iss: ctx.config.issuer });
      return { redirectTo, installation, created: !existing, code };
    });
  try {
    return await run();
  } catch (error) {
    // Two requests for one (application, account) accepted at once: the second
    // insert hits the unique index; retrying finds and reuses the first's installation.
    if (isUniqueViolation(error)) return run();
    throw error;
  }
}

/** Rejects: the browser goes back to the client with error=access_denied (RFC 6749 §4.1.2.1). */
export async function rejectAuthorizationRequest(ctx: DomainContext, id: string): Promise<{ redirectTo: string }> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    const request = await tx.authorizationRequest.findUnique({ where: { id } });
    if (!request) throw notFound("authorization request");
    assertAnswerable(request, now);
    const { count } = await tx.authorizationRequest.updateMany({
      where: { id, status: "pending" },
      data: { status: "rejected", completedAt: now },
    });
    if (count !== 1) throw conflict("authorization request was already answered");
    await recordEvent(ctx, tx, {
      type: "authorization_request.rejected",
      applicationId: request.applicationId,
      data: { authorization_request_id: id },
    });
    return {
      redirectTo: withQuery(request.redirectUri, {
        error: "access_denied",
        error_description: "the user or platform denied the request",
        state: request.state,
        iss: ctx.config.issuer,
      }),
    };
  });
}
