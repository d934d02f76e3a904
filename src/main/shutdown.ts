// Graceful shutdown on SIGTERM / SIGINT, bounded by APPGRANT_SHUTDOWN_GRACE.
//
// 1. Drain: from the signal on, a request is answered 503 + `Connection: close` in
//    its endpoint's error shape, and every response (those of requests already in
//    flight too) carries `Connection: close`, so each keep-alive client learns on its
//    own connection to go elsewhere instead of finding the socket gone. The listener
//    stays open for up to a second (less once no connection is left): a client racing
//    the shutdown gets a 503 rather than a reset.
// 2. Close: stop accepting connections, close the ones still idle, let in-flight
//    requests finish, then release the database, Redis and webhook deliveries.
// 3. When the grace period runs out first, the remaining connections are cut and the
//    process exits 1 (0 after a clean close), so a supervisor can tell the two apart.
// A second signal changes nothing: `npm start` under a terminal gets Ctrl-C twice
// (from the terminal and forwarded by npm), which must not skip the drain.
import type { FastifyInstance } from "fastify";
import type { Server } from "node:http";
import { ServiceUnavailableError } from "../shared/unavailable.js";

/** Longest time the listener stays open after the signal while connections remain. */
export const DRAIN_LINGER_MS = 1_000;

const SHUTTING_DOWN = "the server is shutting down; retry the request (another instance will answer it)";

declare module "fastify" {
  interface FastifyInstance {
    /** True once a shutdown has begun. */
    readonly draining: boolean;
    startDraining(): void;
  }
}

/** The hooks of step 1; registered on the root instance first, so every context inherits them. */
export function drainHooks(app: FastifyInstance): void {
  let draining = false;
  app.decorate("draining", { getter: () => draining });
  app.decorate("startDraining", () => {
    draining = true;
  });
  app.addHook("onRequest", (_request, reply, done) => {
    if (!draining) return done();
    reply.header("connection", "close");
    done(new ServiceUnavailableError(SHUTTING_DOWN, "shutting down"));
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (draining) reply.header("connection", "close");
    done(null, payload);
  });
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
}

async function lingerWhileConnected(server: Server, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && (await openConnections(server)) > 0) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, until - Date.now()))));
  }
}

/** Drains and closes the app within graceMs; resolves to the exit status (0 clean, 1 cut or failed). */
export async function shutdown(app: FastifyInstance, graceMs: number): Promise<number> {
  const started = Date.now();
  app.startDraining();
  if (app.server.listening) await lingerWhileConnected(app.server, Math.min(DRAIN_LINGER_MS, graceMs / 2));

  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), Math.max(0, graceMs - (Date.now() - started)));
  });
  const closed = app.close().then(
    () => "closed" as const,
    (error: unknown) => {
      app.log.error({ err: error }, "error while shutting down");
      return "failed" as const;
    },
  );
  const outcome = await Promise.race([closed, expired]);
  clearTimeout(timer);
  if (outcome === "closed") {
    app.log.info({ ms: Date.now() - started }, "shut down");
    return 0;
  }
  if (outcome === "failed") return 1;
  const cut = await openConnections(app.server);
  app.server.closeAllConnections();
  app.log.warn({ graceMs, connectionsCut: cut }, "shutdown grace period expired: remaining connections cut");
  return 1;
}

/** SIGTERM and SIGINT start one shutdown; the process then exits with its status. */
export function shutdownOnSignals(app: FastifyInstance, graceSeconds: number, exit: (code: number) => void = (code) => process.exit(code)): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    app.log.info({ signal, graceSeconds }, "shutting down");
    void shutdown(app, graceSeconds * 1000)
      .catch((error: unknown) => {
        app.log.error({ err: error }, "error while shutting down");
        return 1;
      })
      .then(exit);
  };
  // `on`, not `once`: with the listener gone, a repeated signal would kill the process on the spot.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, onSignal);
}
