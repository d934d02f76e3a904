-- CreateTable
CREATE TABLE "ApplicationKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "applicationId" TEXT NOT NULL,
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL,
    "publicJwk" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    CONSTRAINT "ApplicationKey_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ClientAssertion" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "applicationId" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "ClientAssertion_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Token" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "accessTokenHash" TEXT NOT NULL,
    "refreshTokenHash" TEXT,
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
INSERT INTO "new_Token" ("accessExpiresAt", "accessTokenHash", "account", "applicationId", "clientId", "createdAt", "familyId", "generation", "grantId", "id", "installationId", "parentId", "refreshExpiresAt", "refreshTokenHash", "revokedAt", "revokedReason", "rotatedAt", "scopes") SELECT "accessExpiresAt", "accessTokenHash", "account", "applicationId", "clientId", "createdAt", "familyId", "generation", "grantId", "id", "installationId", "parentId", "refreshExpiresAt", "refreshTokenHash", "revokedAt", "revokedReason", "rotatedAt", "scopes" FROM "Token";
DROP TABLE "Token";
ALTER TABLE "new_Token" RENAME TO "Token";
CREATE UNIQUE INDEX "Token_accessTokenHash_key" ON "Token"("accessTokenHash");
CREATE UNIQUE INDEX "Token_refreshTokenHash_key" ON "Token"("refreshTokenHash");
CREATE UNIQUE INDEX "Token_parentId_key" ON "Token"("parentId");
CREATE INDEX "Token_familyId_idx" ON "Token"("familyId");
CREATE INDEX "Token_installationId_idx" ON "Token"("installationId");
CREATE INDEX "Token_refreshExpiresAt_idx" ON "Token"("refreshExpiresAt");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "ApplicationKey_applicationId_kid_key" ON "ApplicationKey"("applicationId", "kid");

-- CreateIndex
CREATE INDEX "ClientAssertion_expiresAt_idx" ON "ClientAssertion"("expiresAt");
