// An application's key pair for the tests of private_key_jwt and installation tokens:
// generated with jose, its public JWK stored as the admin API stores it, and JWTs
// signed with it the way an app (or a client library) would.
import { randomUUID } from "node:crypto";
import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { newId } from "../../src/shared/ids.js";
import type { TestApp } from "./helper.js";

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export interface AppKey {
  id: string;
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

/** A key pair whose public half is registered for `applicationId` (a row, as POST …/keys writes it). */
export async function registerKey(test: TestApp, applicationId: string, alg = "ES256"): Promise<AppKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  const publicJwk = { ...jwk, kid, alg, use: "sig" };
  const id = newId();
  await test.app.domain.db.applicationKey.create({
    data: { id, applicationId, kid, alg, publicJwk: JSON.stringify(publicJwk), createdAt: test.clock() },
  });
  return { id, kid, alg, privateKey, publicJwk };
}

/** A key pair that is registered nowhere (an attacker's, or a deleted one's stand-in). */
export async function unregisteredKey(alg = "ES256"): Promise<AppKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { id: "none", kid: await calculateJwkThumbprint(jwk, "sha256"), alg, privateKey, publicJwk: jwk as Record<string, unknown> };
}

export interface AssertionOptions {
  /** Claims replacing the defaults; a claim set to undefined is left out. */
  claims?: Partial<Record<keyof JWTPayload | string, unknown>>;
  /** Header members replacing the defaults (alg, kid). */
  header?: Record<string, unknown>;
}

/** A private_key_jwt client assertion (RFC 7523): iss = sub = client_id, aud = the issuer, 5 minutes, a fresh jti. */
export async function clientAssertion(test: TestApp, key: AppKey, clientId: string, options: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(test.clock().getTime() / 1000);
  const claims: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: test.config.issuer,
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return new SignJWT(claims as JWTPayload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...options.header } as { alg: string })
    .sign(key.privateKey);
}

/** The form parameters of private_key_jwt client authentication. */
export const assertionParams = (assertion: string) => ({ client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion });
