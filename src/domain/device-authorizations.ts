// Device authorizations (RFC 8628), headless like authorization requests: the token
// endpoint's context creates one for a CLI; the platform's verification page reads it
// by the user code the person typed, logs the person in, picks the account and accepts
// or rejects it through the admin API; the CLI's polls (src/oauth/grants/device-code.ts)
// then get the answer. Only a hash of the device code and a keyed hash of the user code
// are stored. An authorization is answered once.
import { generateCredential, sha256 } from "../crypto/tokens.js";
import { generateUserCode, normalizeUserCode, userCodeHash, userCodeHashes } from "../crypto/user-code.js";
import type { Application, DeviceAuthorization } from "../generated/prisma/client.js";
import { newId } from "../shared/ids.js";
import { formatScopes } from "../shared/scopes.js";
import { assertAccount, grantedScopes, installForConsent, retryingInstall } from "./consent.js";
import { addSeconds, type DomainContext } from "./context.js";
import { conflict, isUniqueViolation, notFound } from "./errors.js";
import { recordEvent } from "./events.js";
import { recordInstallationCreated } from "./installations.js";
import type { Db, Tx } from "./ports.js";

export type DeviceAuthorizationWithApp = DeviceAuthorization & { application: Pick<Application, "clientId" | "name"> };

export interface NewDeviceAuthorization {
  applicationId: string;
  scopes: string[];
  /** Seconds until the codes expire, and between polls. */
  lifetime: number;
  interval: number;
}

export interface IssuedDeviceAuthorization {
  deviceAuthorization: DeviceAuthorization;
  /** Both shown once, to the client that asked: only their hashes are stored. */
  deviceCode: string;
  /** As shown: XXXX-XXXX. */
  userCode: string;
}

export async function createDeviceAuthorization(ctx: DomainContext, input: NewDeviceAuthorization): Promise<IssuedDeviceAuthorization> {
  const now = ctx.clock();
  // 2^40 user codes: another live authorization may hold the one drawn. Draw again.
  for (let attempt = 1; ; attempt++) {
    const deviceCode = generateCredential("deviceCode");
    const userCode = generateUserCode();
    try {
      const deviceAuthorization = await ctx.transaction((tx) =>
        tx.deviceAuthorization.create({
          data: {
            id: newId(now.getTime()),
            deviceCodeHash: sha256(deviceCode),
            userCodeHash: userCodeHash(ctx.secretKey, normalizeUserCode(userCode)!),
            applicationId: input.applicationId,
            scopes: formatScopes(input.scopes),
            createdAt: now,
            expiresAt: addSeconds(now, input.lifetime),
            interval: input.interval,
          },
        }),
      );
      return { deviceAuthorization, deviceCode, userCode };
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 3) throw error;
    }
  }
}

const withApp = { application: { select: { clientId: true, name: true } } } as const;

/** The live authorization a typed user code names; unknown, malformed and expired ones are all "not found". */
async function byUserCode(ctx: DomainContext, db: Db | Tx, userCode: string): Promise<DeviceAuthorizationWithApp> {
  const code = normalizeUserCode(userCode);
  const found =
    code === null
      ? null
      : await db.deviceAuthorization.findFirst({ where: { userCodeHash: { in: userCodeHashes(ctx.secretKey, code) } }, include: withApp });
  if (!found || found.expiresAt <= ctx.clock()) throw notFound("device authorization");
  return found;
}

export function getDeviceAuthorization(ctx: DomainContext, userCode: string): Promise<DeviceAuthorizationWithApp> {
  return byUserCode(ctx, ctx.db, userCode);
}

/** The one conditional write that makes an authorization single-use. */
async function answer(tx: Tx, found: DeviceAuthorization, now: Date, data: Partial<DeviceAuthorization>): Promise<void> {
  if (found.status !== "pending") throw conflict(`device authorization was already ${found.status}`);
  const { count } = await tx.deviceAuthorization.updateMany({
    where: { id: found.id, status: "pending", expiresAt: { gt: now } },
    data: { ...data, completedAt: now },
  });
  if (count !== 1) throw conflict("device authorization was already answered");
}

export interface AcceptedDevice {
  deviceAuthorization: DeviceAuthorizationWithApp;
  installationId: string;
  /** True when accepting created the installation (rather than reusing the active one). */
  created: boolean;
  scopes: string[];
}

/**
 * Accepts: creates the installation for (application, account) or reuses the active one
 * (widening its scopes to what was just consented); the device's next poll gets the
 * token pair.
 */
export async function acceptDeviceAuthorization(
  ctx: DomainContext,
  userCode: string,
  input: { account: string; scopes?: string[] | undefined },
): Promise<AcceptedDevice> {
  assertAccount(input.account);
  const now = ctx.clock();
  return retryingInstall(() =>
    ctx.transaction(async (tx) => {
      const found = await byUserCode(ctx, tx, userCode);
      const scopes = grantedScopes(found.scopes, input.scopes);
      await answer(tx, found, now, { status: "accepted", account: input.account, grantedScopes: formatScopes(scopes) });
      const { installation, created } = await installForConsent(ctx, tx, { applicationId: found.applicationId, account: input.account, scopes });
      await tx.deviceAuthorization.update({ where: { id: found.id }, data: { installationId: installation.id } });
      if (created) await recordInstallationCreated(ctx, tx, installation);
      await recordEvent(ctx, tx, {
        type: "device_authorization.accepted",
        applicationId: found.applicationId,
        installationId: installation.id,
        data: { device_authorization_id: found.id, account: input.account, scopes, installation_created: created },
      });
      return { deviceAuthorization: found, installationId: installation.id, created, scopes };
    }),
  );
}

/** Rejects: the device's next poll gets access_denied. */
export async function rejectDeviceAuthorization(ctx: DomainContext, userCode: string): Promise<DeviceAuthorizationWithApp> {
  const now = ctx.clock();
  return ctx.transaction(async (tx) => {
    const found = await byUserCode(ctx, tx, userCode);
    await answer(tx, found, now, { status: "rejected" });
    await recordEvent(ctx, tx, {
      type: "device_authorization.rejected",
      applicationId: found.applicationId,
      data: { device_authorization_id: found.id },
    });
    return found;
  });
}
