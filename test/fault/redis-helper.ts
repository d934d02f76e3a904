// Redis for the fault tests: the real server (shared by every test and by CI, never
// stopped) behind a fault proxy of the test's own, and a key prefix per test so that
// parallel test files never see each other's counters.
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { FaultProxy } from "../support/fault-proxy.js";

export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function uniquePrefix(): string {
  return `test-${randomBytes(6).toString("hex")}:`;
}

/** A fault proxy in front of the test Redis, closed at teardown. */
export async function redisProxy(t: { teardown(fn: () => unknown): void }): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = await FaultProxy.start(FaultProxy.targetOf(REDIS_URL, 6379));
  t.teardown(() => proxy.close());
  return { proxy, url: proxy.rewrite(REDIS_URL) };
}

/** Log lines (parsed) whose msg is `message`. */
export function logLines(logs: string[], message: string): Record<string, unknown>[] {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === message);
}

/** Log lines at error level or above (pino: 50). */
export function errorLines(logs: string[]): Record<string, unknown>[] {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => Number(line.level) >= 50);
}

/** Polls `condition` every 50 ms until it holds; false after `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

/** The Redis status a process exposes (app.dependencies.redis), if any. */
export function redisUp(app: FastifyInstance): boolean {
  const dependencies = (app as unknown as { dependencies?: Record<string, { up: boolean } | undefined> }).dependencies;
  return dependencies?.redis?.up === true;
}
