-- CreateTable
CREATE TABLE "Application" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "clientType" TEXT NOT NULL DEFAULT 'confidential',
    "redirectUris" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "grantTypes" TEXT NOT NULL DEFAULT 'authorization_code refresh_token',
    "webhookUrl" TEXT,
    "webhookSecretEncrypted" TEXT,
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ClientSecret" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "applicationId" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME,
    CONSTRAINT "ClientSecret_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Installation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "applicationId" TEXT NOT NULL,
    "account" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "activeAccount" TEXT,
    "createdAt" DATETIME NOT NULL,
    "uninstalledAt" DATETIME,
    CONSTRAINT "Installation_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Grant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "codeHash" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "installationId" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "redirectUri" TEXT,
    "codeChallenge" TEXT,
    "codeChallengeMethod" TEXT,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "consumedAt" DATETIME,
    "revokedAt" DATETIME,
    CONSTRAINT "Grant_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Grant_installationId_fkey" FOREIGN KEY ("installationId") REFERENCES "Installation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Token" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "accessTokenHash" TEXT NOT NULL,
    "refreshTokenHash" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "installationId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "account" TEXT NOT NULL,
    "grantId" TEXT,
    "familyId" TEXT NOT NULL,
    "generation" INTEGER NOT NULL,
    "parentId" TEXT,
    "scopes" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "accessExpiresAt" DATETIME NOT NULL,
    "refreshExpiresAt" DATETIME NOT NULL,
    "rotatedAt" DATETIME,
    "revokedAt" DATETIME,
    "revokedReason" TEXT,
    CONSTRAINT "Token_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Token_installationId_fkey" FOREIGN KEY ("installationId") REFERENCES "Installation" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Token_grantId_fkey" FOREIGN KEY ("grantId") REFERENCES "Grant" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Token_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Token" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AuthorizationRequest" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "applicationId" TEXT NOT NULL,
    "redirectUri" TEXT NOT NULL,
    "redirectUriSent" BOOLEAN NOT NULL,
    "scopes" TEXT NOT NULL,
    "state" TEXT,
    "codeChallenge" TEXT,
    "codeChallengeMethod" TEXT,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "completedAt" DATETIME,
    "installationId" TEXT,
    CONSTRAINT "AuthorizationRequest_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Application_clientId_key" ON "Application"("clientId");

-- CreateIndex
CREATE INDEX "ClientSecret_applicationId_idx" ON "ClientSecret"("applicationId");

-- CreateIndex
CREATE INDEX "Installation_applicationId_account_idx" ON "Installation"("applicationId", "account");

-- CreateIndex
CREATE INDEX "Installation_account_idx" ON "Installation"("account");

-- CreateIndex
CREATE UNIQUE INDEX "Installation_applicationId_activeAccount_key" ON "Installation"("applicationId", "activeAccount");

-- CreateIndex
CREATE UNIQUE INDEX "Grant_codeHash_key" ON "Grant"("codeHash");

-- CreateIndex
CREATE INDEX "Grant_installationId_idx" ON "Grant"("installationId");

-- CreateIndex
CREATE UNIQUE INDEX "Token_accessTokenHash_key" ON "Token"("accessTokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "Token_refreshTokenHash_key" ON "Token"("refreshTokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "Token_parentId_key" ON "Token"("parentId");

-- CreateIndex
CREATE INDEX "Token_familyId_idx" ON "Token"("familyId");

-- CreateIndex
CREATE INDEX "Token_installationId_idx" ON "Token"("installationId");

-- CreateIndex
CREATE INDEX "Token_refreshExpiresAt_idx" ON "Token"("refreshExpiresAt");

-- CreateIndex
CREATE INDEX "AuthorizationRequest_expiresAt_idx" ON "AuthorizationRequest"("expiresAt");

