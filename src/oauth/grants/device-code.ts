// grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4–3.5): the CLI
// polls with its device code while the user answers on the platform's verification
// page. Pending: authorization_pending, or slow_down (and 5 s more on the client's
// interval) for a poll that came too soon; rejected: access_denied; expired:
// expired_token; accepted: one token pair, issued by the one conditional write that
// consumes the authorization, so concurrent polls in any number of processes get it
// exactly once; later polls get invalid_grant.
import { isWellFormed, sha256 } from "../../crypto/tokens.js";
import { DEVICE_CODE_GRANT, type DeviceAuthorizationRecord, type DeviceCodeStore } from "../device-authorization.js";
import { deviceError, installationInactive, invalidGrant, SCOPE_RACE_ATTEMPTS } from "../errors.js";
import type { GrantContext, GrantType } from "../grant-type.js";
import { newTokenId, randomPair, tokenResponse, tokenRow } from "../issue-token-pair.js";
import type { TokenStore } from "../token-store.js";

const INVALID = "device code is invalid";

/**
 * Polls this much sooner than the interval still count as on time: a client that waits
 * the interval between its requests can see two of them arrive closer than that.
 */
const POLL_TOLERANCE_MS = 500;

type Context = GrantContext<TokenStore & DeviceCodeStore>;

async function pending(ctx: Context, record: DeviceAuthorizationRecord): Promise<never> {
  const { lastPolledAt: last } = record;
  const onTime = last === null || ctx.now.getTime() - last.getTime() >= record.interval * 1000 - POLL_TOLERANCE_MS;
  // A concurrent poll that recorded itself first makes this one too soon as well.
  if (onTime && (await ctx.store.recordPoll(record.id, ctx.now, last))) {
    throw deviceError("authorization_pending", "the user has not answered yet; poll again after the interval");
  }
  await ctx.store.slowDown(record.id, ctx.now);
  throw deviceError("slow_down", "polling too fast: add 5 seconds to the interval");
}

export const deviceCode: GrantType<TokenStore & DeviceCodeStore> = {
  name: DEVICE_CODE_GRANT,
  parameters: ["device_code"],
  required: ["device_code"],

  async handle(ctx) {
    const code = ctx.params.get("device_code")!;
    if (!isWellFormed("deviceCode", code)) throw invalidGrant(INVALID, "malformed device code");
    const hash = sha256(code);
    let record = await ctx.store.findDeviceAuthorization(hash);
    // A device code of another client is reported exactly like an unknown one.
    if (!record || record.applicationId !== ctx.client.id)
      throw invalidGrant(INVALID, record ? "device code of another client" : "unknown device code");
    for (let attempt = 1; ; attempt++) {
      if (record.consumedAt !== null) throw invalidGrant("device code has already been used");
      if (record.status === "rejected") throw deviceError("access_denied", "the user or platform denied the request");
      if (record.expiresAt <= ctx.now) throw deviceError("expired_token", "the device code has expired; start a new device authorization");
      if (record.status !== "accepted") return pending(ctx, record);
      if (!record.installationActive) throw installationInactive(record);

      const id = newTokenId(ctx.now);
      const pair = randomPair(id);
      const row = tokenRow(ctx, id, pair, {
        applicationId: record.applicationId,
        installationId: record.installationId!,
        clientId: ctx.client.clientId,
        account: record.account!,
        codeId: null,
        familyId: record.id,
        generation: 1,
        parentId: null,
        scopes: record.grantedScopes!,
      });
      if (await ctx.store.exchangeDeviceCode(record.id, ctx.now, row)) {
        ctx.log.info({ deviceAuthorizationId: record.id, installationId: record.installationId, tokenId: row.id }, "device code exchanged");
        return tokenResponse(pair, row, ctx.now);
      }
      // Another poll consumed it between our read and our write, it expired, the
      // installation was suspended or went, or the application's scopes were narrowed
      // (then it is tried again with the narrowed scopes): read again to tell which.
      const current = await ctx.store.findDeviceAuthorization(hash);
      if (!current || attempt >= SCOPE_RACE_ATTEMPTS) throw invalidGrant("device code has already been used");
      record = current;
    }
  },
};
