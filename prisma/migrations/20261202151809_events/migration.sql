-- AlterTable
ALTER TABLE "Application" ADD COLUMN "webhookSecretPreviousEncrypted" TEXT;
ALTER TABLE "Application" ADD COLUMN "webhookSecretPreviousUntil" DATETIME;
ALTER TABLE "Application" ADD COLUMN "webhooksPausedAt" DATETIME;

-- CreateTable
CREATE TABLE "Event" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "occurredAt" DATETIME NOT NULL,
    "type" TEXT NOT NULL,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "applicationId" TEXT,
    "installationId" TEXT,
    "requestId" TEXT,
    "sourceIp" TEXT,
    "data" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "eventId" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "installationId" TEXT,
    "type" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "codeEncrypted" TEXT,
    "codeId" TEXT,
    "codeExpiresAt" DATETIME,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME NOT NULL,
    "leaseUntil" DATETIME,
    "lastAttemptAt" DATETIME,
    "lastStatus" INTEGER,
    "lastError" TEXT,
    "lastDurationMs" INTEGER,
    "lastResponse" TEXT,
    "createdAt" DATETIME NOT NULL,
    "deliveredAt" DATETIME
);

-- CreateIndex
CREATE INDEX "Event_occurredAt_idx" ON "Event"("occurredAt");

-- CreateIndex
CREATE INDEX "Event_type_id_idx" ON "Event"("type", "id");

-- CreateIndex
CREATE INDEX "Event_applicationId_id_idx" ON "Event"("applicationId", "id");

-- CreateIndex
CREATE INDEX "Event_installationId_id_idx" ON "Event"("installationId", "id");

-- CreateIndex
CREATE INDEX "WebhookDelivery_status_nextAttemptAt_idx" ON "WebhookDelivery"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_applicationId_id_idx" ON "WebhookDelivery"("applicationId", "id");

-- CreateIndex
CREATE INDEX "WebhookDelivery_installationId_id_idx" ON "WebhookDelivery"("installationId", "id");

-- CreateIndex
CREATE INDEX "WebhookDelivery_eventId_idx" ON "WebhookDelivery"("eventId");
