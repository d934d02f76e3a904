// Builds an app on a fresh database for one test, with a controllable clock and
// captured logs. Everything goes through app.inject(): no network.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import pg from "pg";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance, InjectOptions } from "fastify";
import type { Response as InjectResponse } from "light-my-request";
import { type AppOptions, buildApp } from "../../src/main/app.js";
import { type Config, loadConfig } from "../../src/main/config.js";
import { migrateDatabase } from "../../src/storage/migrate.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789";

export interface TestClock {
  (): Date;
  advance(seconds: number): void;
  set(date: Date): void;
}

export function testClock(start = new Date("2026-01-01T00:00:00Z")): TestClock {
  let now = start.getTime();
  const clock = (() => new Date(now)) as TestClock;
  clock.advance = (seconds) => {
    now += seconds * 1000;
  };
  clock.set = (date) => {
    now = date.getTime();
  };
  return clock;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A fresh, migrated database for one test, removed afterwards: a SQLite file in its
 * own temporary directory, or, when TEST_DATABASE_URL is a postgresql:// URL, a
 * schema of its own in that database (so test files can run in parallel).
 */
export async function freshDatabase(t: Teardown): Promise<string> {
  const postgres = process.env.TEST_DATABASE_URL;
  if (postgres) {
    const schema = `test_${randomBytes(8).toString("hex")}`;
    const url = new URL(postgres);
    url.searchParams.set("schema", schema);
    t.teardown(async () => {
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });
    await migrateDatabase(parseDatabaseUrl(url.toString()));
    return url.toString();
  }
  const dir = mkdtempSync(join(tmpdir(), "appgrant-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const url = `file:${join(dir, "test.db")}`;
  await migrateDatabase(parseDatabaseUrl(url));
  return url;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  clock: TestClock;
  /** Every log line the app wrote, as raw JSON text. */
  logs: string[];
  /** Closes the app (idempotent; also done at teardown): waits for webhook deliveries in progress. */
  close(): Promise<void>;
  /** app.inject with the admin token. */
  admin(method: InjectOptions["method"], url: string, payload?: unknown, headers?: Record<string, string>): Promise<InjectResponse>;
}

export async function buildTestApp(
  t: Teardown,
  env: Record<string, string> = {},
  options: Pick<AppOptions, "webhooks" | "traceExporter"> = {},
): Promise<TestApp> {
  const databaseUrl = await freshDatabase(t);
  const config = loadConfig({
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
    LOG_LEVEL: "info",
    DATABASE_URL: databaseUrl,
    ...env,
  });
  const clock = testClock();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({ config, clock, logStream, ...options });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= app.close());
  t.teardown(close);
  return {
    app,
    config,
    clock,
    logs,
    close,
    admin: (method, url, payload, headers = {}) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
        ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
      }),
  };
}

/** Creates an application through the admin API and returns its JSON (with client_secret). */
export async function createApp(
  test: TestApp,
  body: Record<string, unknown> = {},
): Promise<{ id: string; client_id: string; client_secret: string | null; [key: string]: unknown }> {
  const res = await test.admin("POST", "/admin/v1/applications", {
    name: "Test App",
    redirect_uris: ["https://app.example/callback"],
    scopes: ["read", "write"],
    ...body,
  });
  if (res.statusCode !== 201) throw new Error(`createApp: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** Creates an installation through the admin API and returns its JSON (with code). */
export async function install(
  test: TestApp,
  clientId: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; code: string; code_expires_at: string; [key: string]: unknown }> {
  const res = await test.admin("POST", "/admin/v1/installations", { client_id: clientId, account: "acme", ...body });
  if (res.statusCode !== 201) throw new Error(`install: ${res.statusCode} ${res.body}`);
  return res.json();
}
