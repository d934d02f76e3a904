// The grant types this server offers, in the order discovery lists them. Adding one is
// its module plus a line here (see src/oauth/grant-type.ts).
import { authorizationCode } from "./authorization-code.js";
import { clientCredentials } from "./client-credentials.js";
import { deviceCode } from "./device-code.js";
import { refreshToken } from "./refresh-token.js";

export const GRANT_TYPES = [authorizationCode, refreshToken, clientCredentials, deviceCode] as const;

/**
 * What the admin API and the CLI check an application's grant_types against (the domain's
 * OfferedGrantType, src/domain/context.ts): each grant's name, and whether a public client
 * may be given it. main/app.ts and cli/context.ts hand it to the domain, which cannot
 * import this layer.
 */
export const GRANT_TYPE_OFFERS: readonly { name: string; confidentialOnly: boolean }[] = GRANT_TYPES.map((grant) => ({
  name: grant.name,
  confidentialOnly: grant.confidentialOnly === true,
}));
