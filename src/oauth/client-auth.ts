// Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic
// (HTTP Basic, id and secret form-urlencoded first, §2.3.1), client_secret_post, or
// private_key_jwt (RFC 7523 §2.2: a JWT signed with one of the application's keys,
// src/oauth/client-assertion.ts); public clients identify themselves with client_id
// alone. Exactly one method per request.
import type { IncomingHttpHeaders } from "node:http";
import type { SecretHasher } from "../crypto/secret-hasher.js";
import { isWellFormed, sha256 } from "../crypto/tokens.js";
import { parseList } from "../shared/scopes.js";
import { isWellFormedText } from "../shared/well-formed-text.js";
import {
  AssertionRefused,
  assertionIssuer,
  CLIENT_ASSERTION_RULES,
  CLIENT_ASSERTION_TYPE,
  type ClientKeyStore,
  verifyAssertion,
} from "./client-assertion.js";
import { invalidClient } from "./errors.js";
import type { Params } from "./params.js";
import type { ClientRecord, TokenStore } from "./token-store.js";

export const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export interface AuthenticatedClient {
  id: string;
  clientId: string;
  clientType: string;
  grantTypes: ReadonlySet<string>;
  method: AuthMethod;
}

function formDecode(value: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw invalidClient("malformed HTTP Basic credentials");
  }
  if (!isWellFormedText(decoded)) throw invalidClient("malformed HTTP Basic credentials");
  return decoded;
}

/** The raw (still form-encoded) id and secret of an HTTP Basic header; null if it is not one. */
export function basicPair(header: string | undefined): { id: string; secret: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? null : { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

function basicCredentials(header: string): { id: string; secret: string } {
  if (!/^Basic /i.test(header)) throw invalidClient("unsupported client authentication scheme; use HTTP Basic or client_secret_post");
  const pair = basicPair(header);
  if (!pair) throw invalidClient("malformed HTTP Basic credentials");
  return { id: formDecode(pair.id), secret: formDecode(pair.secret) };
}

/** Client authentication as the routes use it (with the rate limiter around it; see plugin.ts). */
export type Authenticate = (request: { headers: IncomingHttpHeaders }, params: Params, now: Date) => Promise<AuthenticatedClient>;

/**
 * Called before argon2 is spent on a secret that no process remembers having verified
 * (the rate limiter's chance to refuse a guesser first); throws to refuse.
 */
export type BeforeVerification = (clientId: string) => Promise<void>;

export interface ClientAuthContext {
  store: TokenStore & ClientKeyStore;
  hasher: SecretHasher;
  /** What a client assertion's `aud` may be: the issuer and the token endpoint URL. */
  audiences: readonly string[];
  now: Date;
  beforeVerification?: BeforeVerification | undefined;
}

/** The client a request proved itself to be, by `method`. */
export function clientOf(client: ClientRecord, method: AuthMethod): AuthenticatedClient {
  return { id: client.id, clientId: client.clientId, clientType: client.clientType, grantTypes: new Set(parseList(client.grantTypes)), method };
}

/** private_key_jwt: the client is the assertion's iss (and client_id, if sent, must name it). */
async function assertedClient(headers: IncomingHttpHeaders, params: Params, ctx: ClientAuthContext): Promise<AuthenticatedClient> {
  const type = params.get("client_assertion_type");
  const assertion = params.get("client_assertion");
  if (headers.authorization !== undefined || params.has("client_secret")) throw invalidClient("use one client authentication method, not both");
  if (type !== CLIENT_ASSERTION_TYPE) throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  if (assertion === undefined) throw invalidClient("client_assertion is required with client_assertion_type");
  try {
    const issuer = assertionIssuer(assertion);
    const clientId = params.get("client_id");
    if (clientId !== undefined && clientId !== issuer) throw new AssertionRefused("client_id does not match the assertion's iss");
    const client = await ctx.store.findClient(issuer, ctx.now);
    if (!client) throw invalidClient("client authentication failed", "unknown client_id");
    if (client.clientType === "public") throw invalidClient("a public client has no keys to sign with");
    const keys = await ctx.store.findClientKeys(client.id);
    await verifyAssertion(assertion, client, keys, ctx.store, ctx.now, { ...CLIENT_ASSERTION_RULES, audiences: ctx.audiences });
    return clientOf(client, "private_key_jwt");
  } catch (error) {
    if (error instanceof AssertionRefused) throw invalidClient(`client assertion refused: ${error.reason}`);
    throw error;
  }
}

export async function authenticateClient(headers: IncomingHttpHeaders, params: Params, ctx: ClientAuthContext): Promise<AuthenticatedClient> {
  const { store, hasher, now, beforeVerification } = ctx;
  if (params.has("client_assertion_type") || params.has("client_assertion")) return assertedClient(headers, params, ctx);
  let clientId = params.get("client_id");
  let secret = params.get("client_secret");
  let method: AuthMethod = secret !== undefined ? "client_secret_post" : "none";
  if (headers.authorization !== undefined) {
    const basic = basicCredentials(headers.authorization);
    if (secret !== undefined) throw invalidClient("use one client authentication method, not both");
    if (clientId !== undefined && clientId !== basic.id) throw invalidClient("client_id does not match the authenticated client");
    clientId = basic.id;
    secret = basic.secret === "" ? undefined : basic.secret;
    method = "client_secret_basic";
  }
  if (clientId === undefined || clientId === "") throw invalidClient("client authentication is required");

  const client = await store.findClient(clientId, now);
  if (!client) throw invalidClient("client authentication failed", "unknown client_id");
  const authenticated = clientOf(client, method);
  if (client.clientType === "public") {
    if (secret !== undefined) throw invalidClient("a public client has no secret");
    return { ...authenticated, method: "none" };
  }
  if (secret === undefined) throw invalidClient("client authentication is required");
  // The checksum rejects typos and garbage before any argon2 work is spent on them.
  if (isWellFormed("clientSecret", secret)) {
    const before = beforeVerification && (() => beforeVerification(client.clientId));
    if ((await hasher.recognises(client.secretHashes, secret)) || (await hasher.verifyAny(client.secretHashes, secret, before))) {
      if (client.secretsWithoutLookup.size > 0) await fillLookupHash(store, hasher, client, secret);
      return authenticated;
    }
  }
  throw invalidClient("client authentication failed", "wrong client secret");
}

/**
 * A secret created before its SHA-256 was stored (migration 20261202222055_leaked_credentials)
 * gets it the first time it authenticates, so a leak report can find it from then on. Once per
 * secret: the record lists it only while its lookupHash is null. A failure leaves it to the
 * next authentication rather than refusing this one.
 */
async function fillLookupHash(store: TokenStore, hasher: SecretHasher, client: ClientRecord, secret: string): Promise<void> {
  const matched = hasher.verifiedHash(client.secretsWithoutLookup.keys(), secret);
  if (matched === undefined) return;
  try {
    await store.fillSecretLookupHash(client.secretsWithoutLookup.get(matched)!, sha256(secret));
  } catch {
    // Unavailable now: the request's next statement will say so; the fill waits for the next authentication.
  }
}
