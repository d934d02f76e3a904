-- AlterTable
ALTER TABLE "Token" ALTER COLUMN "refreshTokenHash" DROP NOT NULL;

-- CreateTable
CREATE TABLE "ApplicationKey" (
    "id" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL,
    "publicJwk" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ApplicationKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ClientAssertion" (
    "id" TEXT NOT NULL,
    "applicationId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ClientAssertion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApplicationKey_applicationId_kid_key" ON "ApplicationKey"("applicationId", "kid");

-- CreateIndex
CREATE INDEX "ClientAssertion_expiresAt_idx" ON "ClientAssertion"("expiresAt");

-- AddForeignKey
ALTER TABLE "ApplicationKey" ADD CONSTRAINT "ApplicationKey_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ClientAssertion" ADD CONSTRAINT "ClientAssertion_applicationId_fkey" FOREIGN KEY ("applicationId") REFERENCES "Application"("id") ON DELETE CASCADE ON UPDATE CASCADE;
