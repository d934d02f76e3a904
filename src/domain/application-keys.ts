// Application keys: the public keys that verify the JWTs an application signs with its own
// private key (private_key_jwt client authentication, the GitHub-compatible app JWT). Only
// the public JWK is stored. A generated key's private half is returned once, to the caller
// that asked for it, and never stored, logged or put in an event.
//
// A key's kid is always the RFC 7638 thumbprint (SHA-256, base64url) of its public members,
// whatever kid a registered JWK carried: the same key has the same kid everywhere, and a kid
// cannot name two keys of one application.
//
// The token endpoint reads these rows on every authentication (no cache), so adding or
// deleting a key takes effect at once in every process.
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, type JWK } from "jose";
import { newId } from "../shared/ids.js";
import type { ApplicationKey } from "../generated/prisma/client.js";
import { getApplication } from "./applications.js";
import type { DomainContext } from "./context.js";
import { conflict, invalid, isUniqueViolation, notFound } from "./errors.js";
import { recordEvent } from "./events.js";

/** Enough for a rotation (add the new key, deploy it, delete the old) with room for several deployments. */
export const MAX_KEYS_PER_APPLICATION = 10;

/** The algorithms a key may verify: one per key, kept with it. */
export const KEY_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or more. The upper bound keeps verification cheap. */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

/** Members that only a private or symmetric JWK carries (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** The public JWK as stored: the key's public members, its kid (the thumbprint), its one alg and use "sig". */
export type PublicJwk = JWK & { kid: string; alg: KeyAlgorithm; use: "sig" };

export interface GeneratedKey {
  key: ApplicationKey;
  /** The private key, PKCS#8 PEM: returned once, to the caller that generated it, and never stored. */
  privateKeyPem: string;
}

/** The stored public JWK of `key`, parsed. */
export function publicJwkOf(key: Pick<ApplicationKey, "publicJwk">): PublicJwk {
  return JSON.parse(key.publicJwk) as PublicJwk;
}

/** Which algorithm a JWK's key type and curve verify, and whether its own `alg` member agrees. */
function algorithmFor(jwk: Record<string, unknown>): KeyAlgorithm {
  const declared = jwk.alg;
  if (declared !== undefined && typeof declared !== "string") throw invalid("jwk: alg must be a string");
  const agree = (allowed: readonly KeyAlgorithm[], what: string): KeyAlgorithm => {
    if (declared === undefined) return allowed[0]!;
    if ((allowed as readonly string[]).includes(declared)) return declared as KeyAlgorithm;
    throw invalid(`jwk: alg "${declared.slice(0, 20)}" does not fit ${what}; use ${allowed.join(" or ")} (or leave alg out)`);
  };
  switch (jwk.kty) {
    case "RSA":
      return agree(["RS256", "PS256"], "an RSA key");
    case "EC":
      if (jwk.crv !== "P-256") throw invalid(`jwk: curve ${describe(jwk.crv)} is not accepted; EC keys must be on P-256 (ES256)`);
      return agree(["ES256"], "a P-256 key");
    case "OKP":
      if (jwk.crv !== "Ed25519") throw invalid(`jwk: curve ${describe(jwk.crv)} is not accepted; OKP keys must be Ed25519 (EdDSA)`);
      return agree(["EdDSA"], "an Ed25519 key");
    default:
      throw invalid(`jwk: kty ${describe(jwk.kty)} is not accepted; use RSA (2048 bits or more), EC P-256 or OKP Ed25519`);
  }
}

function describe(value: unknown): string {
  return typeof value === "string" ? `"${value.slice(0, 20)}"` : value === undefined ? "(missing)" : "(not a string)";
}

/**
 * Checks a JWK the application brought (its own public key) and returns the form stored:
 * the public members as jose exports them again (canonical base64url), the thumbprint as
 * kid, the one algorithm, use "sig". Refuses private and symmetric keys, other key types
 * and curves, RSA keys under 2048 bits, an alg or use that does not fit, and anything jose
 * cannot import.
 */
export async function publicJwkFrom(jwk: Record<string, unknown>): Promise<PublicJwk> {
  if (jwk.kty === "oct") throw invalid("jwk: a symmetric key (kty oct) cannot be registered; register a public RSA, P-256 or Ed25519 key");
  const present = PRIVATE_MEMBERS.filter((member) => jwk[member] !== undefined);
  if (present.length > 0) {
    throw invalid(
      `jwk: holds private key material (${present.map((member) => `"${member}"`).join(", ")}); register only the public key, and keep the private key to yourself`,
    );
  }
  const alg = algorithmFor(jwk);
  if (jwk.use !== undefined && jwk.use !== "sig") throw invalid(`jwk: use must be "sig" (the key verifies signatures), not ${describe(jwk.use)}`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) {
    throw invalid('jwk: key_ops, when given, must include "verify"');
  }
  // Only the public members go to jose: nothing else of the caller's JWK is kept.
  const members =
    jwk.kty === "RSA" ? { kty: "RSA", n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.kty === "EC" ? { y: jwk.y } : {}) };
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(members as JWK, alg);
  } catch (error) {
    const reason = error instanceof Error ? error.message.slice(0, 200) : "unreadable";
    throw invalid(`jwk: not a valid ${alg} public key (${reason})`);
  }
  if (key instanceof Uint8Array || key.type !== "public") throw invalid("jwk: not a public key");
  if (alg === "RS256" || alg === "PS256") {
    const bits = (key.algorithm as unknown as { modulusLength: number }).modulusLength; // an RsaHashedKeyAlgorithm
    if (bits < MIN_RSA_BITS) throw invalid(`jwk: the RSA modulus has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
    if (bits > MAX_RSA_BITS) throw invalid(`jwk: the RSA modulus has ${bits} bits; at most ${MAX_RSA_BITS} are accepted`);
  }
  return withThumbprint(await exportJWK(key), alg);
}

async function withThumbprint(publicMembers: JWK, alg: KeyAlgorithm): Promise<PublicJwk> {
  const { kty, crv, x, y, n, e } = publicMembers;
  const members = Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined)) as JWK;
  const kid = await calculateJwkThumbprint(members, "sha256");
  return { ...members, kid, alg, use: "sig" };
}

/** Stores `jwk` for the application, under the limit and once per key, with its event. */
async function storeKey(ctx: DomainContext, applicationId: string, jwk: PublicJwk, generated: boolean): Promise<ApplicationKey> {
  const createdAt = ctx.clock();
  const data = { id: newId(createdAt.getTime()), applicationId, kid: jwk.kid, alg: jwk.alg, publicJwk: JSON.stringify(jwk), createdAt };
  try {
    return await ctx.transaction(async (tx) => {
      // Writing the application row first locks it (PostgreSQL), so two concurrent additions
      // cannot both see room for one more key.
      const { count: found } = await tx.application.updateMany({ where: { id: applicationId }, data: { updatedAt: createdAt } });
      if (found === 0) throw notFound("application");
      if (await tx.applicationKey.findFirst({ where: { applicationId, kid: jwk.kid }, select: { id: true } })) {
        throw duplicateKey();
      }
      if ((await tx.applicationKey.count({ where: { applicationId } })) >= MAX_KEYS_PER_APPLICATION) {
        throw conflict(`an application has at most ${MAX_KEYS_PER_APPLICATION} keys; delete one first`);
      }
      const created = await tx.applicationKey.create({ data });
      await recordEvent(ctx, tx, {
        type: "application.key_added",
        applicationId,
        data: { key_id: created.id, kid: created.kid, alg: created.alg, generated },
      });
      return created;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateKey();
    throw error;
  }
}

const duplicateKey = () => conflict("the application already has this key (same kid, the key's RFC 7638 thumbprint)");

/**
 * Generates an ES256 key pair for the application: stores the public key and returns the
 * private key (PKCS#8 PEM) once. It is never stored, logged or recorded in the event.
 */
export async function generateKey(ctx: DomainContext, applicationId: string): Promise<GeneratedKey> {
  await getApplication(ctx, applicationId); // before the key generation, for an unknown application
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const privateKeyPem = await exportPKCS8(privateKey);
  const jwk = await withThumbprint(await exportJWK(publicKey), "ES256");
  return { key: await storeKey(ctx, applicationId, jwk, true), privateKeyPem };
}

/** Registers the application's own public key (a JWK: RSA ≥ 2048 bits, EC P-256 or Ed25519). Its kid is the thumbprint. */
export async function registerKey(ctx: DomainContext, applicationId: string, jwk: Record<string, unknown>): Promise<ApplicationKey> {
  return storeKey(ctx, applicationId, await publicJwkFrom(jwk), false);
}

/** The application's keys (public parts only: nothing else is stored), oldest first. */
export async function listKeys(ctx: DomainContext, applicationId: string): Promise<ApplicationKey[]> {
  await getApplication(ctx, applicationId);
  return ctx.db.applicationKey.findMany({ where: { applicationId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
}

/**
 * Deletes one key of the application. It stops verifying at once in every process (the
 * keys are read on every authentication); tokens already issued live until they expire
 * or are revoked.
 */
export async function deleteKey(ctx: DomainContext, applicationId: string, keyId: string): Promise<void> {
  await ctx.transaction(async (tx) => {
    const key = await tx.applicationKey.findFirst({ where: { id: keyId, applicationId } });
    if (!key) {
      const application = await tx.application.findUnique({ where: { id: applicationId }, select: { id: true } });
      throw notFound(application ? "key" : "application");
    }
    const { count } = await tx.applicationKey.deleteMany({ where: { id: keyId, applicationId } });
    if (count === 0) throw notFound("key");
    await recordEvent(ctx, tx, { type: "application.key_deleted", applicationId, data: { key_id: key.id, kid: key.kid, alg: key.alg } });
  });
}
