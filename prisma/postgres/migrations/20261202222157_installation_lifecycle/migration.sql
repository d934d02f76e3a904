-- AlterTable
ALTER TABLE "Installation" ADD COLUMN     "pendingScopes" TEXT,
ADD COLUMN     "suspendedAt" TIMESTAMP(3),
ADD COLUMN     "suspensionReason" TEXT;
