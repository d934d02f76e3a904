-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN     "lastWebhookTimestamp" TIMESTAMP(3);
