// Applications (OAuth clients) and their client secrets.
import { randomBytes } from "node:crypto";
import { encrypt } from "../crypto/encryption.js";
import { generateClientId, generateCredential, sha256 } from "../crypto/tokens.js";
import { newId } from "../shared/ids.js";
import type { Application, ClientSecret } from "../generated/prisma/client.js";
import type { DomainContext, OfferedGrantType } from "./context.js";
import { conflict, DomainError, invalid, notFound } from "./errors.js";
import { recordEvent } from "./events.js";
import { type Page, type PageRequest, pageArgs, toPage } from "./pagination.js";
import { formatScopes, isScopeToken, parseList, parseScopes } from "../shared/scopes.js";
import { revokeApplicationTokens } from "./revocation.js";
import { resumeWebhooks } from "./webhook-pause.js";
import { changeInstallationScopes, lockedApplicationScopes } from "./installation-permissions.js";
import { WebhookAddressPolicy, type WebhookPolicySettings } from "../shared/webhook-address-policy.js";

export const CLIENT_TYPES = ["confidential", "public"] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

/** Two, so a secret can be rotated without downtime: add the new one, deploy, delete the old. */
export const MAX_ACTIVE_SECRETS = 2;

export interface ApplicationInput {
  name: string;
  redirectUris: string[];
  scopes: string[];
  webhookUrl?: string | null;
  clientType?: ClientType;
  /** Grant types the client may use at the token endpoint; default authorization_code and refresh_token. */
  grantTypes?: string[];
}

export const DEFAULT_GRANT_TYPES = ["authorization_code", "refresh_token"] as const;

/** The grant types the server offers, and which are for confidential clients only (the grant modules say). */
function offeredGrantTypes(ctx: DomainContext): readonly OfferedGrantType[] {
  return ctx.config.grantTypes ?? DEFAULT_GRANT_TYPES.map((name) => ({ name, confidentialOnly: false }));
}

function validateGrantTypes(ctx: DomainContext, grantTypes: readonly string[], clientType: string): void {
  const offered = offeredGrantTypes(ctx);
  if (grantTypes.length === 0) throw invalid("grant_types: at least one grant type is required");
  for (const grantType of grantTypes) {
    const offer = offered.find((candidate) => candidate.name === grantType);
    if (!offer) throw invalid(`grant_types: must each be one of ${offered.map((candidate) => candidate.name).join(", ")}`);
    if (clientType !== "confidential" && offer.confidentialOnly) throw invalid(`grant_types: ${grantType} is for confidential clients only`);
  }
  if (new Set(grantTypes).size !== grantTypes.length) throw invalid("grant_types: a grant type is listed twice");
}

export interface IssuedSecret {
  secret: ClientSecret;
  /** The plaintext secret: returned once, to the caller that created it, and never stored. */
  clientSecret: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * RFC 6749 §3.1.2: absolute, no fragment. RFC 9700 §2.1: exact matching only, and
 * plain http only for loopback (native apps); private-use schemes are allowed for
 * native apps (RFC 8252 §7.1).
 */
export function validateRedirectUri(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`redirect_uris: "${value}" is not an absolute URI`);
  }
  if (url.hash !== "" || value.includes("#")) throw invalid(`redirect_uris: "${value}" must not contain a fragment`);
  if (/\s/.test(value)) throw invalid(`redirect_uris: "${value}" must not contain whitespace`);
  if (url.protocol === "http:" && !isLoopback(url)) {
    throw invalid(`redirect_uris: "${value}" must use https (plain http is allowed only for loopback hosts)`);
  }
  if (url.username !== "" || url.password !== "") throw invalid(`redirect_uris: "${value}" must not carry credentials`);
  if (["javascript:", "data:", "file:", "vbscript:"].includes(url.protocol)) {
    throw invalid(`redirect_uris: "${value}" uses a forbidden scheme`);
  }
}

/**
 * The SSRF policy on the URL alone (src/shared/webhook-address-policy.ts); names are judged
 * again at delivery, on their addresses. The value is not echoed: it may carry credentials.
 */
export function validateWebhookUrl(value: string, policy: WebhookPolicySettings): void {
  const refusal = new WebhookAddressPolicy(policy).checkUrl(value);
  if (refusal !== undefined) throw invalid(`webhook_url: ${refusal}`);
}

/**
 * A webhook URL as events record it: without its query, which may carry a token the
 * endpoint checks (credentials in the URL itself are refused by validateWebhookUrl).
 */
export function webhookUrlForEvent(value: string | null): string | null {
  if (value === null) return null;
  try {
    const url = new URL(value);
    return `${url.origin}${url.pathname}${url.search === "" ? "" : "?…"}`;
  } catch {
    return null;
  }
}

function validateScopes(field: string, scopes: string[]): void {
  if (scopes.length === 0) throw invalid(`${field}: at least one scope is required`);
  for (const scope of scopes) {
    if (!isScopeToken(scope)) throw invalid(`${field}: "${scope}" is not a valid scope (RFC 6749 §3.3)`);
  }
}

function validateInput(input: Partial<ApplicationInput>, policy: WebhookPolicySettings): void {
  if (input.name !== undefined && input.name.trim() === "") throw invalid("name: must not be blank");
  if (input.redirectUris !== undefined) {
    if (input.redirectUris.length === 0) throw invalid("redirect_uris: at least one redirect URI is required");
    input.redirectUris.forEach(validateRedirectUri);
  }
  if (input.scopes !== undefined) validateScopes("scopes", input.scopes);
  if (input.webhookUrl) validateWebhookUrl(input.webhookUrl, policy);
  if (input.clientType !== undefined && !CLIENT_TYPES.includes(input.clientType)) {
    throw invalid(`client_type: must be one of ${CLIENT_TYPES.join(", ")}`);
  }
}

async function newSecret(ctx: DomainContext, applicationId: string, expiresAt: Date | null = null) {
  const clientSecret = generateCredential("clientSecret");
  const createdAt = ctx.clock(); // read before hashing, which takes ~0.1 s
  const data = {
    id: newId(createdAt.getTime()),
    applicationId,
    secretHash: await ctx.hasher.hash(clientSecret),
    // 256 random bits: its SHA-256 gives nothing away, and finds the secret if it leaks.
    lookupHash: sha256(clientSecret),
    createdAt,
    expiresAt,
  };
  return { data, clientSecret };
}

export const WEBHOOK_SECRET_PURPOSE = "webhook-secret";

/**
 * A new webhook signing secret: the plaintext (shown once) and its sealed form (stored).
 * In the Standard Webhooks form, `whsec_` + base64 of 32 random bytes, which their
 * libraries take as it is. Secrets issued before (`agw_…`) keep signing: their bytes
 * are the key (src/webhooks/signature.ts).
 */
export function newWebhookSecret(ctx: Pick<DomainContext, "secretKey">): {
  webhookSecret: string;
  webhookSecretEncrypted: string;
  webhookSecretHash: string;
} {
  const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
  return {
    webhookSecret,
    webhookSecretEncrypted: encrypt(ctx.secretKey, WEBHOOK_SECRET_PURPOSE, webhookSecret),
    webhookSecretHash: sha256(webhookSecret),
  };
}

export async function createApplication(
  ctx: DomainContext,
  input: ApplicationInput,
): Promise<{ application: Application; clientSecret: string | null; webhookSecret: string }> {
  validateInput(input, ctx.config.webhookPolicy);
  const now = ctx.clock();
  const id = newId(now.getTime());
  const clientType = input.clientType ?? "confidential";
  const grantTypes = input.grantTypes ?? [...DEFAULT_GRANT_TYPES];
  validateGrantTypes(ctx, grantTypes, clientType);
  // Hash before the write: argon2 takes ~100 ms and must not hold a transaction open.
  const secret = clientType === "confidential" ? await newSecret(ctx, id) : null;
  const { webhookSecret, webhookSecretEncrypted, webhookSecretHash } = newWebhookSecret(ctx);
  const application = await ctx.transaction(async (tx) => {
    const created = await tx.application.create({
      data: {
        id,
        clientId: generateClientId(),
        name: input.name.trim(),
        clientType,
        grantTypes: grantTypes.join(" "),
        redirectUris: input.redirectUris.join(" "),
        scopes: formatScopes(input.scopes),
        webhookUrl: input.webhookUrl ?? null,
        webhookSecretEncrypted,
        webhookSecretHash,
        createdAt: now,
        updatedAt: now,
      },
    });
    if (secret) await tx.clientSecret.create({ data: secret.data });
    await recordEvent(ctx, tx, {
      type: "application.created",
      applicationId: id,
      data: {
        client_id: created.clientId,
        name: created.name,
        client_type: clientType,
        grant_types: grantTypes,
        redirect_uris: input.redirectUris,
        scopes: parseScopes(created.scopes),
        webhook_url: webhookUrlForEvent(created.webhookUrl),
        secret_id: secret?.data.id ?? null,
      },
    });
    return created;
  });
  return { application, clientSecret: secret?.clientSecret ?? null, webhookSecret };
}

export async function getApplication(ctx: DomainContext, id: string): Promise<Application> {
  const application = await ctx.db.application.findUnique({ where: { id } });
  if (!application) throw notFound("application");
  return application;
}

/** An application by its id or its client_id (operators know either); null when neither matches. */
export function findApplication(ctx: DomainContext, reference: string): Promise<Application | null> {
  return ctx.db.application.findFirst({ where: { OR: [{ id: reference }, { clientId: reference }] } });
}

/** The application a client_id names, or null (the authorization endpoint answers unknown clients itself). */
export function findApplicationByClientId(ctx: DomainContext, clientId: string): Promise<Application | null> {
  return ctx.db.application.findUnique({ where: { clientId } });
}

/** Every scope some application may request, sorted: discovery's scopes_supported when APPGRANT_SCOPES is unset. */
export async function scopesInUse(ctx: DomainContext): Promise<string[]> {
  const applications = await ctx.db.application.findMany({ select: { scopes: true } });
  return [...new Set(applications.flatMap((application) => parseScopes(application.scopes)))].sort();
}

export async function listApplications(ctx: DomainContext, page: PageRequest): Promise<Page<Application>> {
  return toPage(await ctx.db.application.findMany(pageArgs(page)), page);
}

/** A PATCH of an application: the fields to change and, with `webhooksPaused: false`, a resume of its paused webhooks. */
export type ApplicationPatch = Partial<Omit<ApplicationInput, "clientType">> & { webhooksPaused?: false };

/**
 * Changes the given fields (recording application.updated) and resumes the webhooks if asked
 * (src/domain/webhook-pause.ts), in one transaction: an invalid field (400) leaves the webhooks
 * paused too. A patch that only resumes changes no field and records no application.updated.
 */
export async function updateApplication(
  ctx: DomainContext,
  id: string,
  patch: ApplicationPatch,
): Promise<{ application: Application; webhooksResumed: boolean }> {
  const { webhooksPaused, ...fields } = patch;
  validateInput(fields, ctx.config.webhookPolicy);
  const changes = Object.values(fields).some((value) => value !== undefined);
  const data: Record<string, unknown> = { updatedAt: ctx.clock() };
  if (fields.name !== undefined) data.name = fields.name.trim();
  if (fields.redirectUris !== undefined) data.redirectUris = fields.redirectUris.join(" ");
  if (fields.scopes !== undefined) data.scopes = formatScopes(fields.scopes);
  if (fields.webhookUrl !== undefined) data.webhookUrl = fields.webhookUrl;
  if (fields.grantTypes !== undefined) data.grantTypes = fields.grantTypes.join(" ");
  return ctx.transaction(async (tx) => {
    if (changes) {
      // A change of scopes reaches the installations (src/domain/installation-permissions.ts):
      // the row is locked first, so `before` is what this change replaces.
      if (fields.scopes !== undefined && (await lockedApplicationScopes(tx, id)) === null) throw notFound("application");
      const before = await tx.application.findUnique({ where: { id } });
      if (!before) throw notFound("application");
      if (fields.grantTypes !== undefined) validateGrantTypes(ctx, fields.grantTypes, before.clientType);
      const { count } = await tx.application.updateMany({ where: { id }, data });
      if (count === 0) throw notFound("application");
      const after = await tx.application.findUniqueOrThrow({ where: { id } });
      const permissions =
        before.scopes === after.scopes ? {} : await changeInstallationScopes(ctx, tx, id, parseScopes(before.scopes), parseScopes(after.scopes));
      await recordEvent(ctx, tx, { type: "application.updated", applicationId: id, data: { ...changedFields(before, after), ...permissions } });
    }
    // After the fields, so every refusal of them comes before the resume and rolls back with it.
    const webhooksResumed = webhooksPaused === false && (await resumeWebhooks(ctx, tx, id));
    const application = await tx.application.findUnique({ where: { id } });
    if (!application) throw notFound("application");
    return { application, webhooksResumed };
  });
}

function changedFields(before: Application, after: Application): Record<string, unknown> {
  const fields = {
    name: [before.name, after.name],
    redirect_uris: [before.redirectUris, after.redirectUris],
    scopes: [before.scopes, after.scopes],
    webhook_url: [before.webhookUrl, after.webhookUrl],
    grant_types: [before.grantTypes, after.grantTypes],
  } as const;
  const changed = Object.keys(fields).filter((key) => {
    const [old, now] = fields[key as keyof typeof fields];
    return old !== now;
  });
  const values: Record<string, unknown> = {};
  if (changed.includes("name")) values.name = after.name;
  if (changed.includes("redirect_uris")) values.redirect_uris = after.redirectUris.split(" ");
  if (changed.includes("scopes")) values.scopes = parseScopes(after.scopes);
  if (changed.includes("webhook_url")) values.webhook_url = webhookUrlForEvent(after.webhookUrl);
  if (changed.includes("grant_types")) values.grant_types = parseList(after.grantTypes);
  return { changed, ...values };
}

/**
 * Deletes the application and, through the foreign keys' cascades, its secrets,
 * installations, codes and tokens: nothing issued to it authenticates afterwards.
 * Tokens are marked revoked first so that the revocation is explicit even if a
 * future schema keeps rows around.
 */
export async function deleteApplication(ctx: DomainContext, id: string): Promise<void> {
  await ctx.transaction(async (tx) => {
    const application = await tx.application.findUnique({ where: { id }, select: { clientId: true, name: true } });
    await revokeApplicationTokens(tx, id, ctx.clock());
    const { count } = await tx.application.deleteMany({ where: { id } });
    if (!application || count === 0) throw notFound("application");
    await recordEvent(ctx, tx, { type: "application.deleted", applicationId: id, data: { client_id: application.clientId, name: application.name } });
  });
}

/** Seconds a rotated webhook secret keeps signing deliveries next to the new one, by default. */
export const DEFAULT_WEBHOOK_SECRET_OVERLAP = 24 * 3600;

/**
 * Replaces the webhook signing secret; the new one is returned once. The previous one
 * keeps signing deliveries next to it (two `v1,` signatures) for the overlap, so a
 * receiver can switch to the new secret without rejecting a delivery meanwhile.
 */
export async function rotateWebhookSecret(ctx: DomainContext, id: string): Promise<string> {
  const { webhookSecret, webhookSecretEncrypted, webhookSecretHash } = newWebhookSecret(ctx);
  const now = ctx.clock();
  const overlap = ctx.config.webhookSecretOverlap ?? DEFAULT_WEBHOOK_SECRET_OVERLAP;
  await ctx.transaction(async (tx) => {
    const current = await tx.application.findUnique({
      where: { id },
      select: { webhookSecretEncrypted: true, webhookSecretHash: true, webhookSecretCompromisedAt: true },
    });
    if (!current) throw notFound("application");
    const previous = overlap > 0 ? current.webhookSecretEncrypted : null;
    await tx.application.update({
      where: { id },
      data: {
        webhookSecretEncrypted,
        webhookSecretHash,
        webhookSecretCompromisedAt: null,
        webhookSecretPreviousEncrypted: previous,
        webhookSecretPreviousHash: previous ? current.webhookSecretHash : null,
        webhookSecretPreviousUntil: previous ? new Date(now.getTime() + overlap * 1000) : null,
        // A secret reported leaked while current stays marked as the previous one.
        webhookSecretPreviousCompromisedAt: previous ? current.webhookSecretCompromisedAt : null,
        updatedAt: now,
      },
    });
    await recordEvent(ctx, tx, { type: "application.webhook_secret_rotated", applicationId: id, data: {} });
  });
  return webhookSecret;
}

export function isSecretActive(secret: Pick<ClientSecret, "expiresAt">, now: Date): boolean {
  return secret.expiresAt === null || secret.expiresAt > now;
}

export async function listSecrets(ctx: DomainContext, applicationId: string): Promise<ClientSecret[]> {
  await getApplication(ctx, applicationId);
  return ctx.db.clientSecret.findMany({ where: { applicationId }, orderBy: { id: "asc" } });
}

/** Adds a secret for rotation; refused while two are already active. */
export async function addSecret(ctx: DomainContext, applicationId: string, options: { expiresAt?: Date | null } = {}): Promise<IssuedSecret> {
  const application = await getApplication(ctx, applicationId);
  if (application.clientType !== "confidential") throw conflict("a public client has no client secret");
  const now = ctx.clock();
  if (options.expiresAt && options.expiresAt <= now) throw invalid("expires_at: must be in the future");
  const { data, clientSecret } = await newSecret(ctx, applicationId, options.expiresAt ?? null);
  // Count and insert in one transaction so two concurrent additions cannot make three.
  const secret = await ctx.transaction(async (tx) => {
    // Writing the application row first locks it (PostgreSQL), serialising concurrent additions.
    await tx.application.update({ where: { id: applicationId }, data: { updatedAt: now } });
    const active = await tx.clientSecret.count({
      where: { applicationId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    });
    if (active >= MAX_ACTIVE_SECRETS) {
      throw conflict(`an application has at most ${MAX_ACTIVE_SECRETS} active secrets; delete one first`);
    }
    const created = await tx.clientSecret.create({ data });
    await recordEvent(ctx, tx, {
      type: "application.secret_added",
      applicationId,
      data: { secret_id: created.id, expires_at: created.expiresAt?.toISOString() ?? null },
    });
    return created;
  });
  return { secret, clientSecret };
}

/** A conflict whose message each caller ends with its own way of insisting (`force=true`, `--force`). */
export class LastSecretError extends DomainError {
  constructor() {
    super(
      "conflict",
      "this is the application's last working client secret: without it the application cannot authenticate. " +
        "Add another first, or delete it anyway with",
    );
  }
}

/**
 * Deletes a client secret. Deleting the last one that works (no other unexpired secret
 * left) locks the application out of the token endpoint, so it takes `force`.
 */
export async function deleteSecret(ctx: DomainContext, applicationId: string, secretId: string, options: { force?: boolean } = {}): Promise<void> {
  const now = ctx.clock();
  await ctx.transaction(async (tx) => {
    // Writing the application row first locks it (PostgreSQL), so two concurrent
    // deletions of the last two secrets cannot both see the other one left.
    const { count: found } = await tx.application.updateMany({ where: { id: applicationId }, data: { updatedAt: now } });
    if (found === 0) throw notFound("application");
    const secret = await tx.clientSecret.findFirst({ where: { id: secretId, applicationId } });
    if (!secret) throw notFound("secret");
    if (!options.force && isSecretActive(secret, now)) {
      const othersActive = await tx.clientSecret.count({
        where: { applicationId, id: { not: secretId }, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      });
      if (othersActive === 0) throw new LastSecretError();
    }
    await tx.clientSecret.delete({ where: { id: secretId } });
    await recordEvent(ctx, tx, {
      type: "application.secret_deleted",
      applicationId,
      data: { secret_id: secretId, was_active: isSecretActive(secret, now), forced: options.force === true },
    });
  });
}
