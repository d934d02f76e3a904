-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN "redeliveredAt" DATETIME;
