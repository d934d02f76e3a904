// Pending /oauth/authorize requests (the headless, Ory Hydra model): appgrant
// validates and stores the request; the platform authenticates the user, picks the
// account and accepts or rejects through the admin API. A request is answered once.
import { newId } from "../shared/ids.js";
import type { Application, AuthorizationRequest } from "../generated/prisma/client.js";
import { addSeconds, type DomainContext } from "./context.js";
import { conflict, notFound } from "./errors.js";
import { assertAccount, grantedScopes, installForConsent, retryingInstall } from "./consent.js";
import { recordEvent } from "./events.js";
import { createAuthorizationCode, type InstallationWithApp, recordInstallationCreated } from "./installations.js";
import { withQuery } from "../shared/url.js";
import { formatScopes } from "../shared/scopes.js";

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
  assertAccount(input.account);
  const now = ctx.clock();
  return retryingInstall(() =>
    ctx.transaction(async (tx) => {
      const request = await tx.authorizationRequest.findUnique({ where: { id } });
      if (!request) throw notFound("authorization request");
      assertAnswerable(request, now);
      const scopes = grantedScopes(request.scopes, input.scopes);

      // The one conditional write that makes the request single-use.
      const { count } = await tx.authorizationRequest.updateMany({
        where: { id, status: "pending", expiresAt: { gt: now } },
        data: { status: "accepted", completedAt: now },
      });
      if (count !== 1) throw conflict("authorization request was already answered");

      const { installation, created } = await installForConsent(ctx, tx, { applicationId: request.applicationId, account: input.account, scopes });
      await tx.authorizationRequest.update({ where: { id }, data: { installationId: installation.id } });
      const issued = await createAuthorizationCode(ctx, tx, installation, {
        scopes: formatScopes(scopes),
        redirectUri: request.redirectUriSent ? request.redirectUri : null,
        codeChallenge: request.codeChallenge,
        codeChallengeMethod: request.codeChallengeMethod,
      });
      const { code } = issued;
      if (created) await recordInstallationCreated(ctx, tx, installation, issued);
      await recordEvent(ctx, tx, {
        type: "authorization_request.accepted",
        applicationId: request.applicationId,
        installationId: installation.id,
        data: { authorization_request_id: id, account: input.account, scopes, installation_created: created },
      });
      const redirectTo = withQuery(request.redirectUri, { code, state: request.state, iss: ctx.config.issuer });
      return { redirectTo, installation, created, code };
    }),
  );
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
