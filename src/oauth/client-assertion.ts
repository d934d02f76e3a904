// JWTs an application signs with its private key, verified with the public keys it
// registered (ApplicationKey): private_key_jwt client authentication (RFC 7523 §2.2,
// OpenID Connect Core §9) and the GitHub-style app JWT of the compatible endpoint
// (src/http/github/). JOSE is `jose`'s; this module only decides which keys to try and
// which claims the caller's rules require, and says precisely why an assertion is
// refused without echoing anything the caller sent.
//
// Keys are read from the database on every verification (no cache of the rows), so a
// deleted key stops working at once in every process; only the import of a key row,
// which never changes, is cached.
import { createHash } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, errors, importJWK, type JWK, type JWTPayload, jwtVerify } from "jose";

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Asymmetric algorithms only: `none` and HS* never (appgrant holds no secret that could verify an HMAC). */
export const ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;

/** A public key of an application, as stored (src/domain/application-keys.ts writes them). */
export interface ClientKey {
  id: string;
  kid: string;
  alg: string;
  /** The public JWK, as JSON. */
  publicJwk: string;
}

/** The storage client assertions need: an application's keys, and the jtis already used. */
export interface ClientKeyStore {
  findClientKeys(applicationId: string): Promise<ClientKey[]>;
  /**
   * Records that `assertionId` (a hash of the application and the jti) was used, until
   * `expiresAt`, in one conditional write; false when it was used already and has not
   * expired (a replay), whichever process saw it first.
   */
  useAssertionId(assertionId: string, applicationId: string, expiresAt: Date, now: Date): Promise<boolean>;
}

export interface AssertionRules {
  algorithms: readonly string[];
  /** Accepted audiences (one must be in `aud`); undefined: `aud` is not checked. */
  audiences?: readonly string[];
  /** `sub` must be the client_id too (RFC 7523); GitHub's app JWT has only `iss`. */
  subject: boolean;
  /** A `jti` is required (RFC 7523 here); when present it is single-use either way. */
  requireJti: boolean;
  /** An `iat` is required (GitHub's app JWT). */
  requireIat: boolean;
  /** Longest lifetime: `exp` at most this many seconds after `iat` (or after now without `iat`). */
  maxLifetimeSeconds: number;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`. */
  skewSeconds: number;
}

export const CLIENT_ASSERTION_RULES: AssertionRules = {
  algorithms: ASSERTION_ALGORITHMS,
  subject: true,
  requireJti: true,
  requireIat: false,
  maxLifetimeSeconds: 600,
  skewSeconds: 60,
};

/** An assertion refused; `reason` is safe to send (it names a rule, never a value the caller sent). */
export class AssertionRefused extends Error {
  override name = "AssertionRefused";
  constructor(readonly reason: string) {
    super(reason);
  }
}

const MAX_ASSERTION_LENGTH = 16 * 1024;
const MAX_JTI_LENGTH = 256;

/** The `iss` of an assertion, unverified: which client to look up. Throws AssertionRefused if it is not a JWT. */
export function assertionIssuer(jwt: string): string {
  if (jwt.length > MAX_ASSERTION_LENGTH) throw new AssertionRefused("the assertion is too long");
  let payload: JWTPayload;
  try {
    payload = decodeJwt(jwt);
  } catch {
    throw new AssertionRefused("the assertion is not a signed JWT");
  }
  if (typeof payload.iss !== "string" || payload.iss === "") throw new AssertionRefused("the assertion has no iss claim");
  return payload.iss;
}

type VerifyingKey = Awaited<ReturnType<typeof importJWK>>;
const imported = new Map<string, VerifyingKey>();

async function importKey(key: ClientKey): Promise<VerifyingKey> {
  const cacheKey = `${key.id}:${key.kid}`;
  const cached = imported.get(cacheKey);
  if (cached) return cached;
  const jwk = JSON.parse(key.publicJwk) as JWK;
  const cryptoKey = await importJWK(jwk, key.alg);
  if (imported.size >= 10_000) imported.clear();
  imported.set(cacheKey, cryptoKey);
  return cryptoKey;
}

const CLAIM_REASONS: Record<string, string> = {
  exp: "the assertion has expired",
  nbf: "the assertion is not valid yet (nbf)",
  iss: "the assertion's iss must be the client_id",
  sub: "the assertion's sub must be the client_id",
  aud: "the assertion's aud must be the issuer or the token endpoint URL",
  iat: "the assertion's iat is not a valid time",
  jti: "the assertion needs a jti claim",
};

function claimFailure(error: unknown): AssertionRefused | undefined {
  if (error instanceof errors.JWTExpired) return new AssertionRefused(CLAIM_REASONS.exp!);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    // "an exp", "an iat", "an iss", "an aud"; "a sub", "a jti".
    if (error.reason === "missing") return new AssertionRefused(`the assertion needs ${/^[aeiou]/.test(claim) ? "an" : "a"} ${claim} claim`);
    return new AssertionRefused(CLAIM_REASONS[claim] ?? "the assertion's claims are not acceptable");
  }
  if (error instanceof errors.JWTInvalid) return new AssertionRefused("the assertion's claims are not valid JSON claims");
  return undefined;
}

/**
 * Verifies `jwt` as an assertion of `client` under `rules`, with the client's keys:
 * the header's `kid` selects the key, or every key of the header's algorithm is tried.
 * Consumes its `jti` (single use until `exp`). Throws AssertionRefused.
 */
export async function verifyAssertion(
  jwt: string,
  client: { id: string; clientId: string },
  keys: readonly ClientKey[],
  store: Pick<ClientKeyStore, "useAssertionId">,
  now: Date,
  rules: AssertionRules,
): Promise<void> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch {
    throw new AssertionRefused("the assertion is not a signed JWT");
  }
  if (typeof header.alg !== "string" || !rules.algorithms.includes(header.alg)) {
    throw new AssertionRefused(`the assertion's algorithm is not accepted; use one of ${rules.algorithms.join(", ")}`);
  }
  if (keys.length === 0) throw new AssertionRefused("the client has no registered keys");
  const byKid = header.kid === undefined ? keys : keys.filter((key) => key.kid === header.kid);
  if (byKid.length === 0) throw new AssertionRefused("no key of the client has the assertion's kid");
  const candidates = byKid.filter((key) => key.alg === header.alg);
  if (candidates.length === 0) throw new AssertionRefused("no key of the client verifies the assertion's algorithm");

  let payload: JWTPayload | undefined;
  for (const key of candidates) {
    try {
      const verified = await jwtVerify(jwt, await importKey(key), {
        algorithms: [header.alg],
        currentDate: now,
        clockTolerance: rules.skewSeconds,
        issuer: client.clientId,
        ...(rules.subject ? { subject: client.clientId } : {}),
        ...(rules.audiences ? { audience: [...rules.audiences] } : {}),
        requiredClaims: ["exp", ...(rules.requireJti ? ["jti"] : []), ...(rules.requireIat ? ["iat"] : [])],
      });
      payload = verified.payload;
      break;
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      const refused = claimFailure(error);
      if (refused) throw refused;
      throw new AssertionRefused("the assertion is not a well-formed signed JWT");
    }
  }
  if (!payload) throw new AssertionRefused("the assertion's signature does not verify with the client's keys");

  const nowSeconds = Math.floor(now.getTime() / 1000);
  const exp = payload.exp!;
  if (payload.iat !== undefined && payload.iat > nowSeconds + rules.skewSeconds) throw new AssertionRefused("the assertion's iat is in the future");
  const lifetime = payload.iat !== undefined ? exp - payload.iat : exp - nowSeconds - rules.skewSeconds;
  if (lifetime > rules.maxLifetimeSeconds) {
    throw new AssertionRefused(`the assertion's exp must be at most ${rules.maxLifetimeSeconds / 60} minutes after its iat`);
  }
  if (payload.jti !== undefined) {
    if (typeof payload.jti !== "string" || payload.jti === "" || payload.jti.length > MAX_JTI_LENGTH) {
      throw new AssertionRefused(`the assertion's jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
    }
    const assertionId = createHash("sha256").update(`${client.id}\n${payload.jti}`).digest("hex");
    // Kept until the assertion could no longer be accepted (exp plus the skew).
    const until = new Date((exp + rules.skewSeconds) * 1000);
    if (!(await store.useAssertionId(assertionId, client.id, until, now))) throw new AssertionRefused("the assertion's jti has already been used");
  }
}
