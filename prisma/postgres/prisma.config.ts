// Prisma CLI configuration for PostgreSQL with Prisma's native engines, where they can
// be downloaded (a normal production network):
//   DATABASE_URL=postgresql://… npx prisma migrate deploy \
//     --config prisma/postgres/prisma.config.ts --schema prisma/postgres/schema.prisma
// The root prisma.config.ts selects the WASM engine with the SQLite adapter, which is
// what works offline; appgrant itself applies these migrations at start either way.
import { defineConfig } from "prisma/config";

export default defineConfig({});
