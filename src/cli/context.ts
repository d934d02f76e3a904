// What the database commands share: the server's configuration, pending migrations
// applied first (so the CLI works on a fresh data directory), and a domain context
// that lives for one command. The database drivers, Prisma and argon2 are loaded on
// demand: they are most of the start-up time, and usage or configuration errors
// need none of them.
import { GRANT_TYPE_OFFERS } from "../oauth/grants/index.js";
import { type Config, loadConfig } from "../main/config.js";
import type { DomainContext } from "../domain/context.js";
import { describeDatabase } from "../storage/settings.js";
import { notice } from "./output.js";

export { describeDatabase };

/** Applies pending migrations; returns their names. */
export async function migrate(config: Config): Promise<string[]> {
  const { migrateDatabase } = await import("../storage/migrate.js");
  return migrateDatabase(config.database);
}

/** The server's configuration, with pending migrations applied. */
export async function migratedConfig(): Promise<Config> {
  const config = loadConfig();
  const applied = await migrate(config);
  if (applied.length > 0) {
    notice(`appgrant: applied ${applied.length} migration(s) to ${describeDatabase(config.database)}: ${applied.join(", ")}`);
  }
  return config;
}

export async function withDomain<T>(fn: (ctx: DomainContext, config: Config) => Promise<T>): Promise<T> {
  const config = await migratedConfig();
  const [{ openDatabase, resolveSecretKey }, { SecretHasher }, { createDomainContext, withActor }] = await Promise.all([
    import("../storage/database.js"),
    import("../crypto/secret-hasher.js"),
    import("../domain/context.js"),
  ]);
  // Opened like the server opens it: writes take the same transaction path, and what
  // the CLI seals with the server key (webhook secrets) the server can open.
  // One command, one short process: its commits checkpoint inline, no worker thread, and
  // a statement may wait (blocking) for another process's lock, as long as a server's
  // write may: two commands run at once used to fail one with "database is locked".
  const database = await openDatabase(config.database, {
    ...config.db,
    backgroundCheckpoints: false,
    sqliteBusyTimeoutMs: config.db.queryTimeoutMs,
  });
  try {
    // Every change a command makes is recorded as the CLI's (src/domain/events.ts).
    const ctx = withActor(createDomainContext(database, { ...config, grantTypes: GRANT_TYPE_OFFERS }, new SecretHasher(), resolveSecretKey(config)), {
      type: "cli",
    });
    return await fn(ctx, config);
  } finally {
    await database.close();
  }
}
