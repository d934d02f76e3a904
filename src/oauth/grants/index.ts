// The grant types this server offers, in the order discovery lists them. Adding one is
// its module plus a line here (see src/oauth/grant-type.ts).
import { authorizationCode } from "./authorization-code.js";
import { clientCredentials } from "./client-credentials.js";
import { deviceCode } from "./device-code.js";
import { refreshToken } from "./refresh-token.js";

export const GRANT_TYPES = [authorizationCode, refreshToken, clientCredentials, deviceCode] as const;

export const GRANT_TYPE_NAMES: readonly string[] = GRANT_TYPES.map((grant) => grant.name);
