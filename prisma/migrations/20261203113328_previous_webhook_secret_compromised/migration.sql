-- AlterTable
ALTER TABLE "Application" ADD COLUMN "webhookSecretPreviousCompromisedAt" DATETIME;
