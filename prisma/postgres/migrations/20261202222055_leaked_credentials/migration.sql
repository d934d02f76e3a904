-- AlterTable
ALTER TABLE "Application" ADD COLUMN     "webhookSecretCompromisedAt" TIMESTAMP(3),
ADD COLUMN     "webhookSecretHash" TEXT,
ADD COLUMN     "webhookSecretPreviousHash" TEXT;

-- AlterTable
ALTER TABLE "ClientSecret" ADD COLUMN     "compromisedAt" TIMESTAMP(3),
ADD COLUMN     "lookupHash" TEXT;

-- CreateIndex
CREATE INDEX "Application_webhookSecretHash_idx" ON "Application"("webhookSecretHash");

-- CreateIndex
CREATE INDEX "Application_webhookSecretPreviousHash_idx" ON "Application"("webhookSecretPreviousHash");

-- CreateIndex
CREATE UNIQUE INDEX "ClientSecret_lookupHash_key" ON "ClientSecret"("lookupHash");
