-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN     "lastWebhookTimestamp" TIMESTAMP(3);

-- A delivery that has ended never sends its code again: erase the codes kept by deliveries that
-- ended before the outbox erased them itself.
UPDATE "WebhookDelivery" SET "codeEncrypted" = NULL WHERE "status" <> 'pending' AND "codeEncrypted" IS NOT NULL;
