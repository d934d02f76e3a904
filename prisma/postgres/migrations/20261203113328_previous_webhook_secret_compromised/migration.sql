-- AlterTable
ALTER TABLE "Application" ADD COLUMN     "webhookSecretPreviousCompromisedAt" TIMESTAMP(3);
