-- AlterTable
ALTER TABLE "Installation" ADD COLUMN "pendingScopes" TEXT;
ALTER TABLE "Installation" ADD COLUMN "suspendedAt" DATETIME;
ALTER TABLE "Installation" ADD COLUMN "suspensionReason" TEXT;
