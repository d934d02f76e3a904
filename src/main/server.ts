// Process entry: config → migrations → app → listen; graceful close on SIGTERM/SIGINT (src/main/shutdown.ts).
import type { FastifyInstance } from "fastify";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildApp } from "./app.js";
import { purgeExpired } from "../domain/purge.js";
import { type Config, ConfigError, issuerWarning, loadConfig } from "./config.js";
import { migrateDatabase } from "../storage/migrate.js";
import { shutdownOnSignals } from "./shutdown.js";
import { keyFileWarning, keySource } from "../storage/secret-key.js";

function schedulePurge(app: FastifyInstance, seconds: number): void {
  const timer = setInterval(() => {
    purgeExpired(app.domain).then(
      (removed) => app.log.info({ removed }, "purged expired codes, authorization requests and tokens"),
      (error: unknown) => app.log.error({ err: error }, "purge failed"),
    );
  }, seconds * 1000);
  timer.unref();
  app.addHook("onClose", async () => clearInterval(timer));
}

export async function serve(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`appgrant: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const applied = await migrateDatabase(config.database);
  const app = await buildApp({ config });
  if (applied.length > 0) app.log.info({ migrations: applied }, "database migrations applied");
  app.log.info({ source: keySource(config), keys: app.domain.secretKey.all.length }, "server keys loaded (the first encrypts, all decrypt)");
  const keyWarning = keyFileWarning(config);
  if (keyWarning !== undefined) app.log.warn(keyWarning);
  if (config.adminToken === undefined) app.log.warn("APPGRANT_ADMIN_TOKEN is not set: the admin API answers 503 until it is");
  const derivedIssuer = issuerWarning(config);
  if (derivedIssuer !== undefined) app.log.warn({ issuer: config.issuer }, derivedIssuer);

  shutdownOnSignals(app, config.shutdownGrace);
  if (config.purgeInterval > 0) schedulePurge(app, config.purgeInterval);
  await app.listen({ port: config.port, host: config.host });
}

/** Run directly (node dist/main/server.js, also through a symlink or a path with spaces), not imported. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(script);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  serve().catch((error: unknown) => {
    // A configuration problem found while starting (e.g. the database directory) is one line, not a stack.
    if (error instanceof ConfigError) {
      process.stderr.write(`appgrant: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`appgrant: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
