-- AlterTable
ALTER TABLE "Application" ADD COLUMN     "webhookSecretPreviousEncrypted" TEXT,
ADD COLUMN     "webhookSecretPreviousUntil" TIMESTAMP(3),
ADD COLUMN     "webhooksPausedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "Event" (
    "id" TEXT NOT NULL,
    "occurredAt" TIMESTAMP(3) NOT NULL,
    "type" TEXT NOT NULL,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "applicationId" TEXT,
    "installationId" TEXT,
    "requestId" TEXT,
    "sourceIp" TEXT,
    "data" TEXT NOT NULL,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL,
    "eventId" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "installationId" TEXT,
    "type" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "codeEncrypted" TEXT,
    "codeId" TEXT,
    "codeExpiresAt" TIMESTAMP(3),
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL,
    "leaseUntil" TIMESTAMP(3),
    "lastAttemptAt" TIMESTAMP(3),
    "lastStatus" INTEGER,
    "lastError" TEXT,
    "lastDurationMs" INTEGER,
    "lastResponse" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "deliveredAt" TIMESTAMP(3),

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
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
