// Signals reach the server, however it is started (issue 8, defect 8).
//
// `npm start` hands SIGTERM to the server. npm runs a script with
// `sh -c`; /bin/sh (dash here) forks the command instead of replacing itself, and npm
// signals only its own child, the shell: SIGTERM ended the shell and left the server
// running as an orphan that still held its port.
//
// This runs the real `npm start` (npm from PATH) with the project's real start script,
// copied into a scratch package whose dist/main/server.js loads the server from src/ through
// tsx: what is tested is the script's signal path and the server's own shutdown, not
// whether dist/ happens to be built and current.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { REPO_ROOT } from "../support/multi-process-helper.js";

const START_DEADLINE_MS = 45_000;
const GRACE_SECONDS = 4;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function waitFor(what: string, deadlineMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
}

t.test("SIGTERM to `npm start` stops the server, which frees its port", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-npm-start-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "npm-start-probe", private: true, type: "module", scripts: { start: pkg.scripts.start } }),
  );
  mkdirSync(join(dir, "dist", "main"), { recursive: true });
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const serverModule = new URL("src/main/server.ts", `file://${REPO_ROOT.endsWith("/") ? REPO_ROOT : `${REPO_ROOT}/`}`).href;
  writeFileSync(
    join(dir, "dist", "main", "server.js"),
    `const { register } = await import(${JSON.stringify(tsxApi)});\nregister();\nconst { serve } = await import(${JSON.stringify(serverModule)});\nawait serve();\n`,
  );

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: `file:${join(dir, "data", "appgrant.db")}`,
    LOG_LEVEL: "info",
    APPGRANT_SHUTDOWN_GRACE: String(GRACE_SECONDS),
  };
  const npm: ChildProcess = spawn("npm", ["start"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  let serverPid: number | undefined;
  let port: number | undefined;
  let npmExit: { code: number | null; signal: string | null } | undefined;
  npm.once("exit", (code, signal) => (npmExit = { code, signal }));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      log.push(line);
      const match = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (!match) continue;
      port = Number(match[1]);
      serverPid = (JSON.parse(line) as { pid: number }).pid;
    }
  };
  npm.stdout!.on("data", onData);
  npm.stderr!.on("data", onData);
  t.teardown(() => {
    // Only what this test started: npm, and the server process it reported.
    if (npmExit === undefined) npm.kill("SIGKILL");
    if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, "SIGKILL");
  });
  t.teardown(() => {
    if (t.passing() === false) t.comment(`--- npm start output ---\n${log.slice(-40).join("\n")}`);
  });

  await waitFor("the server to listen", START_DEADLINE_MS, () => port !== undefined || npmExit !== undefined);
  t.ok(port, "the server listens");
  if (port === undefined || serverPid === undefined) return;
  t.not(serverPid, npm.pid, "the server is a process of its own under npm");
  const health = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
  t.equal(health.status, 200);

  const signalled = Date.now();
  npm.kill("SIGTERM");
  const bound = (GRACE_SECONDS + 3) * 1000;
  await waitFor("npm to exit", bound, () => npmExit !== undefined).catch((error: Error) => t.fail(error.message));
  await waitFor("the server process to exit", bound, () => !alive(serverPid!)).catch((error: Error) => t.fail(error.message));
  const elapsed = Date.now() - signalled;
  t.notOk(alive(serverPid), "no orphaned server process");
  t.notOk(await connects(port), "the port is free");
  t.ok(elapsed < bound, `stopped within the grace period plus a margin (${elapsed} ms)`);
  t.ok(
    log.some((line) => line.includes('"msg":"shutting down"')),
    "the server itself received the signal (it logged its shutdown)",
  );
  t.equal(npmExit?.code, 0, "npm start exits 0 after a clean shutdown");
});

t.test("the Docker image runs node itself as the container's process (signals reach it)", async (t) => {
  // No Docker daemon on the test machines: the Dockerfile is checked, not run. A shell-form
  // CMD (`CMD node dist/main/server.js`) or `npm start` would put sh or npm in between as PID 1.
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const instructions = dockerfile.split("\n").filter((line) => /^(CMD|ENTRYPOINT|STOPSIGNAL)\b/.test(line));
  const cmd = instructions.filter((line) => line.startsWith("CMD")).at(-1) ?? "";
  t.match(cmd, /^CMD \[/, "CMD is in exec form (a JSON array), not shell form");
  const argv = JSON.parse(cmd.slice("CMD".length)) as string[];
  t.equal(argv[0], "node", "node is PID 1");
  t.equal(argv[1], "dist/main/server.js");
  t.notOk(
    instructions.some((line) => line.startsWith("ENTRYPOINT")),
    "no ENTRYPOINT wraps it",
  );
  const stop = instructions.find((line) => line.startsWith("STOPSIGNAL"));
  t.ok(stop === undefined || /SIGTERM/.test(stop), "the stop signal is SIGTERM");
});
