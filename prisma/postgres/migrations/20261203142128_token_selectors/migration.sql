-- Tokens now carry their row's id (a selector) and are found by the primary key: the two
-- unique indexes of random hashes go. Tokens issued before stay findable by their hashes,
-- copied here once (the key and constraints built after the copy).

-- CreateTable
CREATE TABLE "LegacyTokenHash" (
    "hash" TEXT NOT NULL,
    "tokenId" TEXT NOT NULL
);

INSERT INTO "LegacyTokenHash" ("hash", "tokenId")
SELECT "accessTokenHash", "id" FROM "Token"
UNION ALL
SELECT "refreshTokenHash", "id" FROM "Token" WHERE "refreshTokenHash" IS NOT NULL;

ALTER TABLE "LegacyTokenHash" ADD CONSTRAINT "LegacyTokenHash_pkey" PRIMARY KEY ("hash");

-- CreateIndex
CREATE INDEX "LegacyTokenHash_tokenId_idx" ON "LegacyTokenHash"("tokenId");

-- AddForeignKey
ALTER TABLE "LegacyTokenHash" ADD CONSTRAINT "LegacyTokenHash_tokenId_fkey" FOREIGN KEY ("tokenId") REFERENCES "Token"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- DropIndex
DROP INDEX "Token_accessTokenHash_key";

-- DropIndex
DROP INDEX "Token_refreshTokenHash_key";
