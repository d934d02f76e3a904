// `appgrant studio` with a stand-in `npx` first on PATH: the real command runs (config,
// migrations, the Prisma 7 invocation, signal forwarding, exit code) without
// downloading Prisma. The stand-in records how it was called and behaves as told.
import Database from "better-sqlite3";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import t from "tap";
import { studioInvocation } from "../../src/cli/studio.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

// Like npm exec, the stand-in runs the actual server as a grandchild and does not pass
// signals on to it itself: only a signal sent to the whole process group reaches it.
const FAKE_NPX = `#!/usr/bin/env node
const { spawn } = require("node:child_process");
const { writeFileSync } = require("node:fs");
const record = (extra) => writeFileSync(process.env.FAKE_NPX_RECORD, JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), pid: process.pid, ...extra }));
record({});
if (process.env.FAKE_NPX_EXIT !== undefined) process.exit(Number(process.env.FAKE_NPX_EXIT));
process.on("SIGTERM", () => {});
const server = \`
  process.on("SIGTERM", () => { require("node:fs").writeFileSync(process.env.FAKE_NPX_RECORD + ".signal", "SIGTERM"); process.exit(42); });
  console.log("fake studio listening");
  setInterval(() => {}, 1000);
\`;
spawn(process.execPath, ["-e", server], { stdio: "inherit" }).on("exit", (code) => process.exit(code ?? 1));
`;

interface Studio {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
  record(): { args: string[]; cwd: string; pid: number };
}

function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-studio-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "npx"), FAKE_NPX);
  chmodSync(join(dir, "npx"), 0o755);
  const recordFile = join(dir, "npx-call.json");
  const start = (env: Record<string, string>, ...args: string[]): Studio => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "studio", ...args], {
      env: { PATH: `${dir}:${process.env.PATH}`, HOME: process.env.HOME ?? dir, FAKE_NPX_RECORD: recordFile, ...env },
    });
    const studio: Studio = {
      child,
      stdout: "",
      stderr: "",
      exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
      record: () => JSON.parse(readFileSync(recordFile, "utf8")),
    };
    child.stdout!.on("data", (chunk) => (studio.stdout += chunk));
    child.stderr!.on("data", (chunk) => (studio.stderr += chunk));
    t.teardown(() => {
      child.kill("SIGKILL");
      // The CLI starts npx as leader of its own process group: a failed test must not leave it running.
      if (existsSync(recordFile)) {
        try {
          process.kill(-studio.record().pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });
    return studio;
  };
  return { dir, start, recordFile };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test("studio migrates, runs Prisma 7 Studio on the absolute file URL, and stops it on SIGTERM", async (t) => {
  const { dir, start, recordFile } = setup(t);
  const dbFile = join(dir, "data", "appgrant.db");
  const studio = start({ DATABASE_URL: `file:${dbFile}` }, "--port", "5601");
  await waitFor(() => studio.stdout.includes("fake studio listening"), "the stand-in to start");

  const tables = new Database(dbFile, { readonly: true })
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
    .all()
    .map((row) => (row as { name: string }).name);
  t.ok(
    ["Application", "Installation", "Grant", "Token"].every((name) => tables.includes(name)),
    "tables exist before Studio opens",
  );

  const call = studio.record();
  t.same(call.args, [
    "--yes",
    "-p",
    "prisma@7.10.1",
    "-p",
    "better-sqlite3@12",
    "prisma",
    "studio",
    "--port",
    "5601",
    "--browser",
    "none",
    "--url",
    `file://${dbFile}`,
  ]);
  t.match(call.args.at(-1), /^file:\/\/\//, "file: plus three slashes and the absolute path");
  t.not(call.cwd, process.cwd(), "runs outside the project, away from its Prisma 6 CLI and prisma.config.ts");
  t.match(studio.stdout, /Open http:\/\/localhost:5601/);

  studio.child.kill("SIGTERM");
  t.equal(await studio.exited, 42, "exits with Studio's own exit code");
  t.equal(readFileSync(`${recordFile}.signal`, "utf8"), "SIGTERM", "the signal reached Studio itself, not only npx");
});

t.test("a PostgreSQL URL goes to Studio as is, without the SQLite driver", async (t) => {
  const url = "postgresql://appgrant:hunter2@db.internal:5432/appgrant";
  t.same(studioInvocation(parseDatabaseUrl(url), 5555).args, [
    "--yes",
    "-p",
    "prisma@7.10.1",
    "prisma",
    "studio",
    "--port",
    "5555",
    "--browser",
    "none",
    "--url",
    url,
  ]);
});

// Needs a server: set TEST_DATABASE_URL=postgresql://… as for the rest of the suite.
const postgres = process.env.TEST_DATABASE_URL;
t.test(
  "studio on PostgreSQL migrates the schema, never prints the password, and returns Studio's failure",
  { skip: postgres ? false : "TEST_DATABASE_URL is not set" },
  async (t) => {
    const { start } = setup(t);
    const schema = `test_${randomBytes(8).toString("hex")}`;
    const url = new URL(postgres!);
    url.searchParams.set("schema", schema);
    t.teardown(async () => {
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });
    const studio = start({ DATABASE_URL: url.toString(), APPGRANT_SECRET_KEY: "k".repeat(64), FAKE_NPX_EXIT: "3" });
    t.equal(await studio.exited, 3, studio.stderr);
    t.equal(studio.record().args.at(-1), url.toString());
    t.match(studio.stderr, /applied \d+ migration/);
    if (url.password) t.notOk((studio.stdout + studio.stderr).includes(url.password), "the password is not printed");
  },
);

t.test("studio refuses a bad port before starting anything", async (t) => {
  const { dir, start, recordFile } = setup(t);
  const studio = start({ DATABASE_URL: `file:${join(dir, "x.db")}` }, "--port", "99999");
  t.equal(await studio.exited, 2);
  t.match(studio.stderr, /--port must be from 1 to 65535/);
  t.notOk(existsSync(recordFile), "npx was not run");
});
