// Shared by the fault-injection tests (test/fault/*.test.ts): data to serve, an app
// on a database URL of the test's choosing (behind a FaultProxy), and the record of
// a load run (every answer's status and latency), so each test asserts counts.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/main/app.js";
import { type Config, loadConfig } from "../../src/main/config.js";
import { ADMIN_TOKEN } from "../support/helper.js";

export interface Client {
  client_id: string;
  client_secret: string;
}

export interface FaultApp {
  app: FastifyInstance;
  config: Config;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Idempotent; also done at teardown. */
  close(): Promise<void>;
}

/** An app on `databaseUrl` (migrated already), its logs captured; closed at teardown. */
export async function buildFaultApp(
  t: { teardown(fn: () => unknown): void },
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<FaultApp> {
  const config = loadConfig({
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
    LOG_LEVEL: "info",
    DATABASE_URL: databaseUrl,
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = await buildApp({ config, logStream });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= app.close());
  t.teardown(close);
  return { app, config, logs, close };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** An application and `installations` installations of it (one code each), through the admin API. */
export async function seed(app: FastifyInstance, installations: number): Promise<{ client: Client; codes: string[] }> {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const created = await app.inject({
    method: "POST",
    url: "/admin/v1/applications",
    headers,
    payload: { name: "Fault app", redirect_uris: ["https://app.example/callback"], scopes: ["read"] },
  });
  if (created.statusCode !== 201) throw new Error(`seed: ${created.statusCode} ${created.body}`);
  const { client_id, client_secret } = created.json() as Client;
  const codes: string[] = [];
  for (let i = 0; i < installations; i++) {
    const res = await app.inject({ method: "POST", url: "/admin/v1/installations", headers, payload: { client_id, account: `account-${i}` } });
    if (res.statusCode !== 201) throw new Error(`seed: ${res.statusCode} ${res.body}`);
    codes.push((res.json() as { code: string }).code);
  }
  return { client: { client_id, client_secret }, codes };
}

/** The token request body of a client authenticating with client_secret_post. */
export function tokenForm(client: Client, fields: Record<string, string>): string {
  return form({ ...fields, client_id: client.client_id, client_secret: client.client_secret });
}

export interface Answer {
  kind: string;
  status: number;
  ms: number;
  /** When the request was sent, in ms since the run started. */
  at: number;
  retryAfter: string | undefined;
  body: string;
}

/**
 * Runs every worker in a loop until `stop()` resolves; each call answers one request.
 * Returns every answer, in the order they came.
 */
export async function runLoad(
  workers: { kind: string; request: () => Promise<{ status: number; retryAfter: string | undefined; body: string }> }[],
  stop: Promise<unknown>,
): Promise<Answer[]> {
  const answers: Answer[] = [];
  const start = performance.now();
  let stopped = false;
  void stop.then(() => (stopped = true));
  await Promise.all(
    workers.map(async ({ kind, request }) => {
      while (!stopped) {
        const sent = performance.now();
        const res = await request();
        answers.push({ kind, ...res, ms: performance.now() - sent, at: sent - start });
      }
    }),
  );
  return answers;
}

/** Counts of `answers` by "kind status". */
export function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[`${answer.kind} ${answer.status}`] = (counts[`${answer.kind} ${answer.status}`] ?? 0) + 1;
  return counts;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Exchanges each code; returns the refresh tokens and the last access token. */
export async function tokenPairs(app: FastifyInstance, client: Client, codes: string[]): Promise<{ refreshTokens: string[]; accessToken: string }> {
  const refreshTokens: string[] = [];
  let accessToken = "";
  for (const code of codes) {
    const res = await app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: FORM,
      payload: tokenForm(client, { grant_type: "authorization_code", code }),
    });
    if (res.statusCode !== 200) throw new Error(`setup: ${res.statusCode} ${res.body}`);
    refreshTokens.push(res.json().refresh_token as string);
    accessToken = res.json().access_token as string;
  }
  return { refreshTokens, accessToken };
}

export type Worker = { kind: string; request: () => Promise<{ status: number; retryAfter: string | undefined; body: string }> };

/**
 * The load of the fault tests, each request followed by a 50 ms pause: one refresh
 * chain per refresh token (writes), introspection (reads), admin reads and writes
 * (Prisma, the writes in transactions), and `extra` (health endpoints).
 */
export function loadWorkers(
  app: FastifyInstance,
  client: Client,
  tokens: { refreshTokens: string[]; accessToken: string },
  extra: string[],
): Worker[] {
  const answer = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => ({
    status: res.statusCode,
    retryAfter: res.headers["retry-after"] as string | undefined,
    body: res.body,
  });
  const paced = (request: () => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>) => async () => {
    const result = answer(await request());
    await delay(50);
    return result;
  };
  const { refreshTokens, accessToken } = tokens;
  let accounts = 0;
  return [
    ...refreshTokens.map((_token, i) => ({
      kind: "token",
      request: paced(async () => {
        const res = await app.inject({
          method: "POST",
          url: "/oauth/token",
          headers: FORM,
          payload: tokenForm(client, { grant_type: "refresh_token", refresh_token: refreshTokens[i]! }),
        });
        if (res.statusCode === 200) refreshTokens[i] = res.json().refresh_token as string;
        return res;
      }),
    })),
    {
      kind: "introspect",
      request: paced(() => app.inject({ method: "POST", url: "/oauth/introspect", headers: { ...FORM, ...ADMIN }, payload: `token=${accessToken}` })),
    },
    { kind: "admin read", request: paced(() => app.inject({ method: "GET", url: "/admin/v1/applications", headers: ADMIN })) },
    {
      kind: "admin write",
      request: paced(() =>
        app.inject({
          method: "POST",
          url: "/admin/v1/installations",
          headers: ADMIN,
          payload: { client_id: client.client_id, account: `load-${++accounts}` },
        }),
      ),
    },
    ...extra.map((url) => ({ kind: url, request: paced(() => app.inject({ method: "GET", url })) })),
  ];
}

/** The error shape of each 503 answer, by endpoint family. */
export function unavailableShapes(answers: Answer[]): string[] {
  const shapes = new Set(
    answers
      .filter((a) => a.status === 503)
      .map((a) => {
        if (a.kind === "/readyz") return `readyz ${a.body}`;
        const body = JSON.parse(a.body) as Record<string, unknown>;
        return a.kind.startsWith("admin")
          ? `admin ${body.statusCode} ${body.code} ${body.error}`
          : `oauth ${body.error} ${Object.keys(body).sort().join(",")}`;
      }),
  );
  return [...shapes].sort();
}
