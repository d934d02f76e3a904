-- CreateIndex
CREATE INDEX "Application_webhooksPausedAt_idx" ON "Application"("webhooksPausedAt");

-- CreateIndex
CREATE INDEX "Installation_status_idx" ON "Installation"("status");
