-- AlterTable
ALTER TABLE "WebhookDelivery" ADD COLUMN     "redeliveredAt" TIMESTAMP(3);
