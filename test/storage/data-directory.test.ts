// A database path the process cannot use (a file where a directory should be, a
// directory where the file should be, no write permission) is a configuration error:
// one line naming DATABASE_URL and the path, exit code 2, no stack trace, from the
// server and from the CLI alike.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { run } from "../support/cli-helper.js";
import { REPO_ROOT } from "../support/multi-process-helper.js";

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-datadir-"));
  t.teardown(() => {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The server process with `env`; resolves when it exits (killed after 30 s: it must not start). */
function server(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main/server.ts"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

function expectOneLine(t: Test, output: { code: number | null; stderr: string }, path: string, who: string): void {
  t.equal(output.code, 2, `${who}: exit code 2 (configuration)`);
  const lines = output.stderr.trimEnd().split("\n");
  t.equal(lines.length, 1, `${who}: one line (${output.stderr.slice(0, 500)})`);
  t.match(lines[0], /^appgrant: configuration error: DATABASE_URL: /, `${who}: names DATABASE_URL`);
  t.ok(lines[0]!.includes(path), `${who}: names the path ${path}`);
  t.notMatch(output.stderr, /^\s+at /m, `${who}: no stack trace`);
}

const cases: { name: string; make: (dir: string) => { url: string; path: string } }[] = [
  {
    name: "a file where the data directory should be",
    make: (dir) => {
      writeFileSync(join(dir, "data"), "not a directory");
      return { url: `file:${join(dir, "data", "appgrant.db")}`, path: join(dir, "data") };
    },
  },
  {
    name: "a directory where the database file should be",
    make: (dir) => {
      mkdirSync(join(dir, "appgrant.db"));
      return { url: `file:${join(dir, "appgrant.db")}`, path: join(dir, "appgrant.db") };
    },
  },
];

for (const c of cases) {
  t.test(`${c.name}: one configuration line from the server and the CLI`, async (t) => {
    const { url, path } = c.make(scratch(t));
    const [fromServer, fromCli] = await Promise.all([server({ DATABASE_URL: url }), run({ DATABASE_URL: url }, ["apps", "list"])]);
    expectOneLine(t, fromServer, path, "server");
    t.notMatch(fromServer.stdout, /listening/i, "the server did not start");
    expectOneLine(t, fromCli, path, "CLI");
  });
}

const root = process.getuid?.() === 0;
t.test("a data directory without write permission: one configuration line", { skip: root && "root writes anywhere" }, async (t) => {
  const dir = scratch(t);
  const data = join(dir, "data");
  mkdirSync(data);
  chmodSync(data, 0o500);
  const url = `file:${join(data, "appgrant.db")}`;
  const [fromServer, fromCli] = await Promise.all([server({ DATABASE_URL: url }), run({ DATABASE_URL: url }, ["migrate"])]);
  expectOneLine(t, fromServer, data, "server");
  expectOneLine(t, fromCli, data, "CLI");
});
