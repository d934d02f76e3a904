import type { SecretHasher } from "../crypto/secret-hasher.js";
import type { ServerKeys } from "../crypto/server-keys.js";
import type { Actor } from "./events.js";
import type { Db, Tx } from "./ports.js";
import { addSeconds, type Clock } from "../shared/time.js";
import type { WebhookPolicySettings } from "../shared/webhook-address-policy.js";

export type { Clock };

/** The settings domain services read (src/main/config.ts holds them all). */
export interface DomainSettings {
  codeLifetime: number;
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  issuer: string;
  webhookPolicy: WebhookPolicySettings;
  /** Days the purge keeps events (src/domain/purge.ts); 0 keeps them forever. Unset: 90. */
  eventRetentionDays?: number;
  /** Seconds a rotated webhook secret keeps signing deliveries alongside the new one (default 24 h). */
  webhookSecretOverlap?: number;
  /**
   * The grant types the server offers (its grant registry, src/oauth/grants/index.ts,
   * GRANT_TYPE_OFFERS): an application's grant_types must be among them, and a public
   * application's may not include one for confidential clients only. Unset: the two every
   * server has, for any client.
   */
  grantTypes?: readonly OfferedGrantType[];
}

/** A grant type as the domain sees it: the grant module's name and its rule on client types. */
export interface OfferedGrantType {
  name: string;
  /** Only confidential applications may list it (the grant module's `confidentialOnly`). */
  confidentialOnly: boolean;
}

/** What every domain service needs; built once per app (or CLI run) and passed down. */
export interface DomainContext {
  db: Db;
  /**
   * Runs `fn` in a database transaction. Every domain write goes through this, never
   * through db directly: on SQLite it also queues behind the token endpoint's writes
   * (see src/storage/write-lock.ts).
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  clock: Clock;
  hasher: SecretHasher;
  /** Server keys (APPGRANT_SECRET_KEY, APPGRANT_SECRET_KEY_FILE or the SQLite key file): the first encrypts webhook secrets, all decrypt. */
  secretKey: ServerKeys;
  config: DomainSettings;
  /** Who is acting: recorded in every event (src/domain/events.ts). The process's context acts as "system". */
  actor: Actor;
}

/** The same context acting for `actor` (an admin request, a CLI run, a client). */
export function withActor(ctx: DomainContext, actor: Actor): DomainContext {
  return { ...ctx, actor };
}

export { addSeconds };

/** The context for a process: the app builds one, and so does each CLI run. */
export function createDomainContext(
  database: { prisma: Db; transaction: DomainContext["transaction"] },
  config: DomainContext["config"],
  hasher: SecretHasher,
  secretKey: ServerKeys,
  clock: Clock = () => new Date(),
): DomainContext {
  return { db: database.prisma, transaction: database.transaction, clock, hasher, secretKey, config, actor: { type: "system" } };
}
