// PostgreSQL connection settings shared by Prisma (through @prisma/adapter-pg) and
// the token endpoint's store: one pg.Pool per process for both.
import pg from "pg";

/** Prisma's `?schema=` convention; everything else in the URL goes to pg as is. */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? "public";
  parsed.searchParams.delete("schema");
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new Error(`DATABASE_URL: invalid schema name "${schema}"`);
  return { connectionString: parsed.toString(), schema };
}

const TIMESTAMP_OID = 1114;

export function createPool(url: string, max = Number(process.env.APPGRANT_PG_POOL_SIZE ?? 10)): { pool: pg.Pool; schema: string } {
  const { connectionString, schema } = parsePostgresUrl(url);
  const pool = new pg.Pool({
    connectionString,
    max,
    // Unqualified table names in the token store's SQL resolve to the configured schema.
    options: `-c search_path="${schema}"`,
    // Prisma stores DateTime as timestamp(3) without time zone, in UTC; read it as UTC
    // whatever the process's time zone.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMP_OID && format !== "binary"
          ? (value: string) => new Date(`${value.replace(" ", "T")}Z`)
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  return { pool, schema };
}
