-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN "lastWebhookTimestamp" DATETIME;
