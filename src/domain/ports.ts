// What the domain services need from storage: the Prisma client's query API, typed by
// the generated data model (prisma/schema.prisma). Storage builds the client for the
// configured database (src/storage/client.ts); the domain only names its type, so it
// never depends on a driver, and every raw SQL statement stays in src/storage/.
import type { PrismaClient } from "../generated/prisma/client.js";

export type Db = PrismaClient;
/** The client inside an interactive transaction (DomainContext.transaction). */
export type Tx = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;
