// Leaked credentials: what a secret scanner (POST /secret-scanning/github) or anyone
// holding one (POST /oauth/credentials/revoke) reports. Each value is classified by its
// prefix and checksum first (src/crypto/tokens.ts), so garbage costs no database work;
// the rest is looked up by SHA-256 in one query per kind and handled in one
// transaction: tokens and codes are revoked at once (a refresh token with its whole
// family), a client or webhook secret is marked compromised and, by policy, deleted or
// kept (a current webhook secret is replaced, and the application's webhooks paused).
// Every credential this changes records `credential.leaked` (with the report's url and
// source, never the credential) and its webhook, in that same transaction.
//
// Every write is conditional on the state it changes (not revoked yet, not marked yet,
// still the current secret), so concurrent or repeated reports of one credential
// record one event, and a report never undoes or overwrites another change.
import { decrypt } from "../crypto/encryption.js";
import { type CredentialKind, credentialSelector, hashesEqual, isWellFormed, sha256 } from "../crypto/tokens.js";
import { revokeUntilNoneLive } from "../shared/family-revocation.js";
import { newWebhookSecret, WEBHOOK_SECRET_PURPOSE } from "./applications.js";
import type { DomainContext } from "./context.js";
import { type EventInput, recordEvents } from "./events.js";
import type { Tx } from "./ports.js";
import { pauseWebhooksIn } from "./webhook-pause.js";

/** What becomes of a leaked client or webhook secret (APPGRANT_LEAKED_SECRET_ACTION). */
export const LEAKED_SECRET_ACTIONS = ["notify", "revoke"] as const;
export type LeakedSecretAction = (typeof LEAKED_SECRET_ACTIONS)[number];

export type CredentialType =
  | "access_token"
  | "installation_token"
  | "refresh_token"
  | "authorization_code"
  | "device_code"
  | "client_secret"
  | "webhook_secret";

/** Who reported the leak, as events record it. */
export type LeakReporter = "secret_scanning" | "public_revocation";

export interface LeakReport {
  credential: string;
  /** Where the scanner found it (a public URL) and what kind of place it was: recorded, not trusted. */
  url?: string | null;
  source?: string | null;
}

export interface LeakOutcome {
  /** The kind its prefix and checksum say; null for anything that is not an appgrant credential. */
  type: CredentialType | null;
  /** True when the credential exists here (or did: a revoked token is still found). */
  found: boolean;
}

export interface LeakOptions {
  reporter: LeakReporter;
  secretAction: LeakedSecretAction;
}

/** Reports per request, at most: both endpoints refuse more. */
export const MAX_LEAK_REPORTS = 1000;

const MAX_URL = 2048;
const MAX_SOURCE = 128;

/** A Standard Webhooks secret as appgrant issues them: `whsec_` and base64 of 32 bytes. */
const WHSEC = /^whsec_[A-Za-z0-9+/]{43}=$/;

/** The kind of credential `value` is, by its prefix and checksum; null: not one of appgrant's. */
export function credentialType(value: string): CredentialType | null {
  if (isWellFormed("accessToken", value)) return "access_token";
  if (isWellFormed("installationToken", value)) return "installation_token";
  if (isWellFormed("refreshToken", value)) return "refresh_token";
  if (isWellFormed("code", value)) return "authorization_code";
  if (isWellFormed("deviceCode", value)) return "device_code";
  if (isWellFormed("clientSecret", value)) return "client_secret";
  if (isWellFormed("webhookSecret", value) || WHSEC.test(value)) return "webhook_secret";
  return null;
}

function clip(value: string | null | undefined, max: number): string | null {
  return typeof value === "string" && value !== "" ? value.slice(0, max) : null;
}

interface Classified {
  type: CredentialType;
  hash: string;
  report: LeakReport;
}

/** Handles `reports`; the outcomes are in the same order. */
export async function handleLeakedCredentials(ctx: DomainContext, reports: readonly LeakReport[], options: LeakOptions): Promise<LeakOutcome[]> {
  const classified = reports.map((report): Classified | null => {
    const type = credentialType(report.credential);
    return type === null ? null : { type, hash: sha256(report.credential), report };
  });
  // One report per credential: the first one's url and source are recorded.
  const byHash = new Map<string, Classified>();
  for (const entry of classified) if (entry && !byHash.has(entry.hash)) byHash.set(entry.hash, entry);
  const ofType = (...types: CredentialType[]) => [...byHash.values()].filter((entry) => types.includes(entry.type));

  const webhookSecrets = ofType("webhook_secret");
  if (webhookSecrets.length > 0) await fillWebhookSecretHashes(ctx);

  const found = new Set<string>();
  if (byHash.size > 0) {
    await ctx.transaction(async (tx) => {
      const now = ctx.clock();
      const events: EventInput[] = [];
      const event = (entry: Classified, applicationId: string, installationId: string | null, data: Record<string, unknown>) =>
        events.push({
          type: "credential.leaked",
          applicationId,
          installationId,
          data: {
            credential_type: entry.type,
            reporter: options.reporter,
            url: clip(entry.report.url, MAX_URL),
            source: clip(entry.report.source, MAX_SOURCE),
            ...data,
          },
        });
      const context = { tx, now, found, event, record: (input: EventInput) => events.push(input), action: options.secretAction };
      // Families before single tokens: a token of a revoked family needs no event of its own.
      await refreshTokens(context, ofType("refresh_token"));
      await accessTokens(context, ofType("access_token", "installation_token"));
      await codes(context, ofType("authorization_code"));
      await deviceCodes(context, ofType("device_code"));
      await clientSecrets(context, ofType("client_secret"));
      await webhookSecretsLeaked(ctx, context, webhookSecrets);
      await recordEvents(ctx, tx, events);
    });
  }
  return classified.map((entry) => ({ type: entry?.type ?? null, found: entry !== null && found.has(entry.hash) }));
}

interface Step {
  tx: Tx;
  now: Date;
  found: Set<string>;
  event: (entry: Classified, applicationId: string, installationId: string | null, data: Record<string, unknown>) => void;
  /** Another event the handling causes (application.webhooks_paused), recorded with the others. */
  record: (input: EventInput) => void;
  action: LeakedSecretAction;
}

const hashesOf = (entries: Classified[]) => entries.map((entry) => entry.hash);

const TOKEN_KINDS: Partial<Record<CredentialType, CredentialKind>> = {
  access_token: "accessToken",
  installation_token: "installationToken",
  refresh_token: "refreshToken",
};

const selectorOf = (entry: Classified) => credentialSelector(TOKEN_KINDS[entry.type]!, entry.report.credential);

/**
 * The conditions that find the rows the reported tokens name: by the selector each carries
 * (the primary key), and by the hash of each legacy one (LegacyTokenHash's key). Two
 * queries, not one with OR: SQLite would answer an OR across the two by scanning Token.
 */
function tokenRowsNamed(entries: Classified[]) {
  const ids: string[] = [];
  const legacy: string[] = [];
  for (const entry of entries) {
    const selector = selectorOf(entry);
    if (selector === null) legacy.push(entry.hash);
    else ids.push(selector);
  }
  return [...(ids.length > 0 ? [{ id: { in: ids } }] : []), ...(legacy.length > 0 ? [{ legacyHashes: { some: { hash: { in: legacy } } } }] : [])];
}

/**
 * Each row with the report of the token it holds: a report naming the row (its selector,
 * or for a legacy token its hash) whose hash is the stored one, compared in constant time.
 * Rows no report holds (another secret under a real selector) are dropped.
 */
function withReports<R extends { id: string }>(rows: R[], entries: Classified[], stored: (row: R) => string | null): { row: R; entry: Classified }[] {
  const bySelector = new Map<string, Classified[]>();
  const legacy = new Map<string, Classified>();
  for (const entry of entries) {
    const selector = selectorOf(entry);
    if (selector === null) legacy.set(entry.hash, entry);
    else bySelector.set(selector, [...(bySelector.get(selector) ?? []), entry]);
  }
  return rows.flatMap((row) => {
    const hash = stored(row);
    const named = bySelector.get(row.id) ?? [];
    const old = hash === null ? undefined : legacy.get(hash);
    const entry = (old === undefined ? named : [...named, old]).find((candidate) => hashesEqual(hash, candidate.hash));
    return entry ? [{ row, entry }] : [];
  });
}

async function refreshTokens({ tx, now, found, event }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const select = { id: true, refreshTokenHash: true, familyId: true, applicationId: true, installationId: true } as const;
  const named = [];
  for (const where of tokenRowsNamed(entries)) named.push(...(await tx.token.findMany({ where, select })));
  const rows = withReports(named, entries, (row) => row.refreshTokenHash);
  const families = [...new Set(rows.map(({ row }) => row.familyId))];
  // Repeated until a pass revokes nothing: a rotation committing meanwhile adds a member (src/shared/family-revocation.ts).
  const perFamily = new Map<string, number>();
  await revokeUntilNoneLive(async () => {
    const revoked = await tx.token.updateManyAndReturn({
      where: { familyId: { in: families }, revokedAt: null },
      data: { revokedAt: now, revokedReason: "leaked" },
      select: { familyId: true },
    });
    for (const row of revoked) perFamily.set(row.familyId, (perFamily.get(row.familyId) ?? 0) + 1);
    return revoked.length;
  });
  for (const { row, entry } of rows) {
    found.add(entry.hash);
    const count = perFamily.get(row.familyId);
    if (count === undefined) continue; // already revoked, or counted under another report of the family
    perFamily.delete(row.familyId);
    event(entry, row.applicationId, row.installationId, { action: "revoked", token_id: row.id, family_id: row.familyId, tokens_revoked: count });
  }
}

async function accessTokens({ tx, now, found, event }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const select = { id: true, accessTokenHash: true, applicationId: true, installationId: true } as const;
  const named = [];
  for (const where of tokenRowsNamed(entries)) named.push(...(await tx.token.findMany({ where, select })));
  const rows = withReports(named, entries, (row) => row.accessTokenHash);
  // The row is the pair: its refresh token (if any) dies with the access token, as /oauth/revoke does.
  const revoked = new Set(
    (
      await tx.token.updateManyAndReturn({
        where: { id: { in: rows.map(({ row }) => row.id) }, revokedAt: null },
        data: { revokedAt: now, revokedReason: "leaked" },
        select: { id: true },
      })
    ).map((row) => row.id),
  );
  for (const { row, entry } of rows) {
    found.add(entry.hash);
    if (revoked.has(row.id)) event(entry, row.applicationId, row.installationId, { action: "revoked", token_id: row.id });
  }
}

async function codes({ tx, now, found, event }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = await tx.authorizationCode.findMany({
    where: { codeHash: { in: hashesOf(entries) } },
    select: { id: true, codeHash: true, applicationId: true, installationId: true },
  });
  // A code already exchanged cannot be exchanged again (its reuse revokes what it gave): nothing to do.
  const revoked = new Set(
    (
      await tx.authorizationCode.updateManyAndReturn({
        where: { id: { in: rows.map((row) => row.id) }, consumedAt: null, revokedAt: null },
        data: { revokedAt: now },
        select: { id: true },
      })
    ).map((row) => row.id),
  );
  const byHash = new Map(entries.map((entry) => [entry.hash, entry]));
  for (const row of rows) {
    const entry = byHash.get(row.codeHash)!;
    found.add(entry.hash);
    if (revoked.has(row.id)) event(entry, row.applicationId, row.installationId, { action: "revoked", code_id: row.id });
  }
}

async function deviceCodes({ tx, now, found, event }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = await tx.deviceAuthorization.findMany({
    where: { deviceCodeHash: { in: hashesOf(entries) } },
    select: { id: true, deviceCodeHash: true, applicationId: true, installationId: true },
  });
  // Expired now, whatever its answer: the exchange needs an unexpired code, so the client's next poll gets expired_token.
  const revoked = new Set(
    (
      await tx.deviceAuthorization.updateManyAndReturn({
        where: { id: { in: rows.map((row) => row.id) }, consumedAt: null, expiresAt: { gt: now } },
        data: { expiresAt: now },
        select: { id: true },
      })
    ).map((row) => row.id),
  );
  const byHash = new Map(entries.map((entry) => [entry.hash, entry]));
  for (const row of rows) {
    const entry = byHash.get(row.deviceCodeHash)!;
    found.add(entry.hash);
    if (revoked.has(row.id)) event(entry, row.applicationId, row.installationId, { action: "revoked", device_authorization_id: row.id });
  }
}

async function clientSecrets({ tx, now, found, event, action }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = await tx.clientSecret.findMany({
    where: { lookupHash: { in: hashesOf(entries) } },
    select: { id: true, lookupHash: true, applicationId: true },
  });
  const byHash = new Map(entries.map((entry) => [entry.hash, entry]));
  for (const row of rows) {
    const entry = byHash.get(row.lookupHash!)!;
    found.add(entry.hash);
    // A few rows at most (an application has two active secrets): one conditional write each.
    const changed =
      action === "revoke"
        ? (await tx.clientSecret.deleteMany({ where: { id: row.id } })).count
        : (await tx.clientSecret.updateMany({ where: { id: row.id, compromisedAt: null }, data: { compromisedAt: now } })).count;
    if (changed > 0) event(entry, row.applicationId, null, { action: action === "revoke" ? "deleted" : "marked_compromised", secret_id: row.id });
  }
}

async function webhookSecretsLeaked(ctx: DomainContext, { tx, now, found, event, record, action }: Step, entries: Classified[]): Promise<void> {
  if (entries.length === 0) return;
  const hashes = hashesOf(entries);
  const rows = await tx.application.findMany({
    where: { OR: [{ webhookSecretHash: { in: hashes } }, { webhookSecretPreviousHash: { in: hashes } }] },
    select: { id: true, webhookSecretHash: true, webhookSecretPreviousHash: true },
  });
  const byHash = new Map(entries.map((entry) => [entry.hash, entry]));
  for (const row of rows) {
    const current = row.webhookSecretHash !== null ? byHash.get(row.webhookSecretHash) : undefined;
    if (current) {
      found.add(current.hash);
      const where = { id: row.id, webhookSecretHash: current.hash };
      let changed: number;
      if (action === "revoke") {
        // Replaced by a secret nobody is shown, so the leaked one signs nothing more. The app's receiver
        // cannot verify what that secret signs: the webhooks are paused with it, so no delivery is
        // refused until it gives up, and none is lost, until an operator rotates the secret to one the
        // app is given and resumes them (src/domain/webhook-pause.ts).
        const { webhookSecretEncrypted, webhookSecretHash } = newWebhookSecret(ctx);
        changed = (
          await tx.application.updateMany({
            where,
            data: { webhookSecretEncrypted, webhookSecretHash, webhookSecretCompromisedAt: null, updatedAt: now },
          })
        ).count;
        if (changed > 0 && (await pauseWebhooksIn(tx, row.id, now))) {
          record({ type: "application.webhooks_paused", applicationId: row.id, data: { reason: "webhook_secret_leaked" } });
        }
      } else {
        changed = (
          await tx.application.updateMany({ where: { ...where, webhookSecretCompromisedAt: null }, data: { webhookSecretCompromisedAt: now } })
        ).count;
      }
      if (changed > 0) event(current, row.id, null, { action: action === "revoke" ? "replaced" : "marked_compromised", secret: "current" });
    }
    const previous = row.webhookSecretPreviousHash !== null ? byHash.get(row.webhookSecretPreviousHash) : undefined;
    if (previous) {
      found.add(previous.hash);
      // The previous secret only signs next to the current one until its overlap ends: "revoke" ends it now.
      if (action === "revoke") {
        const { count } = await tx.application.updateMany({
          where: { id: row.id, webhookSecretPreviousHash: previous.hash },
          data: {
            webhookSecretPreviousEncrypted: null,
            webhookSecretPreviousHash: null,
            webhookSecretPreviousUntil: null,
            webhookSecretPreviousCompromisedAt: null,
            updatedAt: now,
          },
        });
        if (count > 0) event(previous, row.id, null, { action: "deleted", secret: "previous" });
      } else {
        // Marked once, as the current one is: a repeated report (or one of a secret marked while current, since rotated out) records nothing.
        const { count } = await tx.application.updateMany({
          where: { id: row.id, webhookSecretPreviousHash: previous.hash, webhookSecretPreviousCompromisedAt: null },
          data: { webhookSecretPreviousCompromisedAt: now },
        });
        if (count > 0) event(previous, row.id, null, { action: "marked_compromised", secret: "previous" });
      }
    }
  }
}

/**
 * Webhook secrets sealed before their hash was stored get it now (they can be opened:
 * the server keeps them to sign). Each write is conditional on the ciphertext read, so
 * a secret rotated meanwhile is left to its rotation. Unreadable ones are skipped.
 */
export async function fillWebhookSecretHashes(ctx: DomainContext): Promise<number> {
  const rows = await ctx.db.application.findMany({
    where: {
      OR: [
        { webhookSecretEncrypted: { not: null }, webhookSecretHash: null },
        { webhookSecretPreviousEncrypted: { not: null }, webhookSecretPreviousHash: null },
      ],
    },
    select: {
      id: true,
      webhookSecretEncrypted: true,
      webhookSecretHash: true,
      webhookSecretPreviousEncrypted: true,
      webhookSecretPreviousHash: true,
    },
  });
  if (rows.length === 0) return 0;
  const hashOf = (sealed: string) => {
    try {
      return sha256(decrypt(ctx.secretKey, WEBHOOK_SECRET_PURPOSE, sealed));
    } catch {
      return null;
    }
  };
  return ctx.transaction(async (tx) => {
    let filled = 0;
    for (const row of rows) {
      if (row.webhookSecretEncrypted !== null && row.webhookSecretHash === null) {
        const hash = hashOf(row.webhookSecretEncrypted);
        if (hash !== null) {
          filled += (
            await tx.application.updateMany({
              where: { id: row.id, webhookSecretEncrypted: row.webhookSecretEncrypted, webhookSecretHash: null },
              data: { webhookSecretHash: hash },
            })
          ).count;
        }
      }
      if (row.webhookSecretPreviousEncrypted !== null && row.webhookSecretPreviousHash === null) {
        const hash = hashOf(row.webhookSecretPreviousEncrypted);
        if (hash !== null) {
          filled += (
            await tx.application.updateMany({
              where: { id: row.id, webhookSecretPreviousEncrypted: row.webhookSecretPreviousEncrypted, webhookSecretPreviousHash: null },
              data: { webhookSecretPreviousHash: hash },
            })
          ).count;
        }
      }
    }
    return filled;
  });
}
