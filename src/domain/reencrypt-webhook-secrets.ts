// After a server-key rotation: re-encrypt the stored webhook secrets still sealed under
// an older key with the first (current) key, so the older key can be removed. Both of
// an application's sealed secrets count: the current one and, during a rotation's
// overlap, the previous one that still signs next to it. In bounded batches (keyset
// pagination by id, each batch one short transaction), and idempotent: a secret
// already under the current key is left alone, and each write is conditional on the
// ciphertext read, so a secret rotated meanwhile is never overwritten with its old value.
import { encrypt, open } from "../crypto/encryption.js";
import { WEBHOOK_SECRET_PURPOSE } from "./applications.js";
import type { DomainContext } from "./context.js";

export interface ReencryptResult {
  /** Sealed secrets read (an application in a rotation's overlap has two). */
  scanned: number;
  reencrypted: number;
  /** Already sealed under the current key. */
  alreadyCurrent: number;
  /** Changed (rotated, deleted) between the read and the write: left as they are. */
  changedMeanwhile: number;
  /** Ids of applications with a secret no configured key opens. */
  unreadable: string[];
}

export const DEFAULT_REENCRYPT_BATCH = 100;

const COLUMNS = ["webhookSecretEncrypted", "webhookSecretPreviousEncrypted"] as const;
type Column = (typeof COLUMNS)[number];

export async function reencryptWebhookSecrets(ctx: DomainContext, batch = DEFAULT_REENCRYPT_BATCH): Promise<ReencryptResult> {
  const result: ReencryptResult = { scanned: 0, reencrypted: 0, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: [] };
  let after: string | undefined;
  for (;;) {
    const rows = await ctx.db.application.findMany({
      where: {
        OR: [{ webhookSecretEncrypted: { not: null } }, { webhookSecretPreviousEncrypted: { not: null } }],
        ...(after !== undefined ? { id: { gt: after } } : {}),
      },
      select: { id: true, webhookSecretEncrypted: true, webhookSecretPreviousEncrypted: true },
      orderBy: { id: "asc" },
      take: batch,
    });
    if (rows.length === 0) return result;
    after = rows.at(-1)!.id;
    const updates: { id: string; column: Column; from: string; to: string }[] = [];
    for (const row of rows) {
      let unreadable = false;
      for (const column of COLUMNS) {
        const sealed = row[column];
        if (sealed === null) continue;
        result.scanned++;
        let opened: ReturnType<typeof open>;
        try {
          opened = open(ctx.secretKey, WEBHOOK_SECRET_PURPOSE, sealed);
        } catch {
          unreadable = true;
          continue;
        }
        if (opened.keyIndex === 0) result.alreadyCurrent++;
        else updates.push({ id: row.id, column, from: sealed, to: encrypt(ctx.secretKey, WEBHOOK_SECRET_PURPOSE, opened.plaintext) });
      }
      if (unreadable) result.unreadable.push(row.id);
    }
    if (updates.length > 0) {
      const written = await ctx.transaction(async (tx) => {
        let count = 0;
        for (const { id, column, from, to } of updates) {
          count += (await tx.application.updateMany({ where: { id, [column]: from }, data: { [column]: to } })).count;
        }
        return count;
      });
      result.reencrypted += written;
      result.changedMeanwhile += updates.length - written;
    }
    if (rows.length < batch) return result;
  }
}
