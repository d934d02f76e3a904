-- AlterTable
ALTER TABLE "Application" ADD COLUMN "webhookSecretCompromisedAt" DATETIME;
ALTER TABLE "Application" ADD COLUMN "webhookSecretHash" TEXT;
ALTER TABLE "Application" ADD COLUMN "webhookSecretPreviousHash" TEXT;

-- AlterTable
ALTER TABLE "ClientSecret" ADD COLUMN "compromisedAt" DATETIME;
ALTER TABLE "ClientSecret" ADD COLUMN "lookupHash" TEXT;

-- CreateIndex
CREATE INDEX "Application_webhookSecretHash_idx" ON "Application"("webhookSecretHash");

-- CreateIndex
CREATE INDEX "Application_webhookSecretPreviousHash_idx" ON "Application"("webhookSecretPreviousHash");

-- CreateIndex
CREATE UNIQUE INDEX "ClientSecret_lookupHash_key" ON "ClientSecret"("lookupHash");
