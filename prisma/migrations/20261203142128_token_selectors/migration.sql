-- Tokens now carry their row's id (a selector) and are found by the primary key: the two
-- unique indexes of random hashes go. Tokens issued before stay findable by their hashes,
-- copied here once (sorted: appended to the new table's key in order).

-- CreateTable
CREATE TABLE "LegacyTokenHash" (
    "hash" TEXT NOT NULL PRIMARY KEY,
    "tokenId" TEXT NOT NULL,
    CONSTRAINT "LegacyTokenHash_tokenId_fkey" FOREIGN KEY ("tokenId") REFERENCES "Token" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

INSERT INTO "LegacyTokenHash" ("hash", "tokenId")
SELECT "hash", "tokenId" FROM (
    SELECT "accessTokenHash" AS "hash", "id" AS "tokenId" FROM "Token"
    UNION ALL
    SELECT "refreshTokenHash", "id" FROM "Token" WHERE "refreshTokenHash" IS NOT NULL
) ORDER BY "hash";

-- CreateIndex
CREATE INDEX "LegacyTokenHash_tokenId_idx" ON "LegacyTokenHash"("tokenId");

-- DropIndex
DROP INDEX "Token_accessTokenHash_key";

-- DropIndex
DROP INDEX "Token_refreshTokenHash_key";
