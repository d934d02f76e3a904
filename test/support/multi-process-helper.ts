// Real server processes for the cross-process tests: each one is `node --import tsx
// src/main/server.ts` (no build needed) listening on 127.0.0.1 on a port the OS picks
// (PORT=0, so ports are free and distinct without a pick-then-bind race), found in the
// process's "Server listening at" log line and confirmed by polling /readyz with a
// deadline. Talks to them over real HTTP with fetch, every request under a timeout.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { parsePostgresUrl } from "../../src/storage/settings.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const REQUEST_TIMEOUT_MS = 15_000;
const KEEP_LOG_LINES = 200;

export interface ServerProcess {
  name: string;
  base: string;
  child: ChildProcess;
  /** The last log lines (stdout and stderr), for diagnostics. */
  log: string[];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/**
 * Every child still running, killed if the test process exits without reaching the
 * teardown: on exit, and on the signals a runner sends (tap's timeout, Ctrl-C). Only
 * SIGKILL of the test process itself can orphan them (they would then keep running
 * until killed; nothing of theirs is reused).
 */
const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) child.kill("SIGKILL");
};
process.once("exit", killRunning);
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGALRM"] as const) {
  process.on(signal, function onSignal() {
    killRunning();
    // Alone, this listener would swallow the signal: restore the default and re-raise.
    if (process.listenerCount(signal) === 1) {
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    }
  });
}

export interface StartOptions {
  name: string;
  env: Record<string, string>;
  readyDeadlineMs?: number;
  /** The path polled until it answers 200 (default /readyz, which queries the database through Prisma). */
  readyPath?: string;
}

/** Starts one server process and resolves once /readyz answers 200; rejects (and kills it) otherwise. */
export async function startServer({ name, env, readyDeadlineMs = 45_000, readyPath = "/readyz" }: StartOptions): Promise<ServerProcess> {
  // A minimal environment: nothing of the test runner's (NODE_OPTIONS, TAP_*) leaks in.
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: "0", HOST: "127.0.0.1", ...env };
  if (process.env.HOME) childEnv.HOME = process.env.HOME;
  const child = spawn(process.execPath, ["--import", "tsx", "src/main/server.ts"], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const server: ServerProcess = { name, base: "", child, log: [], exited: null };
  let resolvePort: (port: number) => void;
  const portFound = new Promise<number>((resolve) => (resolvePort = resolve));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line === "") continue;
      server.log.push(line);
      if (server.log.length > KEEP_LOG_LINES) server.log.shift();
      const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (match) resolvePort!(Number(match[1]));
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      server.exited = { code, signal };
      running.delete(child);
      resolve();
    }),
  );

  const deadline = Date.now() + readyDeadlineMs;
  const fail = async (why: string): Promise<never> => {
    await stopServer(server);
    throw new Error(`${name}: ${why}\n--- its log ---\n${server.log.join("\n")}`);
  };
  const timeLeft = () => Math.max(0, deadline - Date.now());
  const port = await Promise.race([
    portFound,
    exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeLeft()).unref()),
  ]);
  if (port === "exited") return fail(`exited before listening (${JSON.stringify(server.exited)})`);
  if (port === "timeout") return fail(`did not listen within ${readyDeadlineMs} ms`);
  server.base = `http://127.0.0.1:${port}`;

  // Listening is not ready: poll /readyz (database reachable) until the deadline.
  for (;;) {
    if (server.exited) return fail(`exited before ready (${JSON.stringify(server.exited)})`);
    try {
      const res = await fetch(`${server.base}${readyPath}`, { signal: AbortSignal.timeout(Math.min(2_000, Math.max(1, timeLeft()))) });
      if (res.status === 200) return server;
      await res.body?.cancel();
    } catch {
      // not accepting connections yet
    }
    if (timeLeft() === 0) return fail(`${readyPath} did not answer 200 within ${readyDeadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM (graceful close), then SIGKILL if it has not exited within the grace time. */
export async function stopServer(server: ServerProcess, graceMs = 5_000): Promise<void> {
  const { child } = server;
  if (server.exited || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  /** Which process answered. */
  server: string;
}

/** One request over real HTTP; a JSON body is parsed, an empty one is {}. */
export async function http(
  server: ServerProcess,
  method: string,
  path: string,
  options: { form?: Record<string, string>; json?: unknown; bearer?: string } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  } else if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  const res = await fetch(`${server.base}${path}`, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  if (text !== "") {
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { unparsed: text };
    }
  }
  return { status: res.status, body: parsed, server: server.name };
}

/** A direct connection to the test's schema, to check what the processes wrote. */
export async function connectSchema(databaseUrl: string): Promise<pg.Client> {
  const { connectionString, schema } = parsePostgresUrl(databaseUrl);
  const client = new pg.Client({ connectionString, options: `-c search_path="${schema}"` });
  await client.connect();
  return client;
}
