// README.md followed literally by a new user (issue 8, defect 12): its ```sh blocks,
// extracted in order, run in one bash session against a fresh server on a fresh data
// directory, and each must succeed; the token step must really get tokens.
//
// How the session differs from a user's terminal, and nothing else:
// - It runs in a fresh empty directory (the user's checkout, minus its data/), so
//   `./data/appgrant.db` and `.admin-token` are new and land there.
// - `npm install` lines are skipped: the test runs inside an installed checkout.
// - `npm start` lines (optionally prefixed with VAR=value assignments) stop the server
//   this session started before (SIGTERM, as Ctrl-C would) and start
//   `node --import tsx src/main/server.ts` (the sources: no build needed) in the background,
//   with the session's environment and those assignments, on a port the OS picks,
//   then wait for /readyz. The README's other terminal is the session itself.
// - `npx appgrant` finds a node_modules/.bin/appgrant in the directory that runs the
//   CLI from src/ the same way.
// - `127.0.0.1:3000` and `localhost:3000` point at that server's port.
// - Any other npm or npx command in a ```sh block fails the test: examples that are not
//   part of the walkthrough go in ```console or ```text blocks.
// - Every curl in a ```sh block has -f (--fail): without it an HTTP error (a 401) exits 0 and
//   the block would pass while failing; a curl without it fails the test.
// - A ```js block whose first line is a comment naming a file (`// mint.mjs: …`) is saved
//   in the directory under that name, as README tells the user to; its `jose` is the
//   checkout's (node_modules/jose links to it).
// - No network but 127.0.0.1: npm offline, no proxy, every curl bounded by a .curlrc
//   max-time, the whole session bounded; its process group is killed at the end.
// The README says which tools it needs (curl, openssl, node); jq is not one of them.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { type CredentialKind, generateCredential, isWellFormed, PREFIXES } from "../../src/crypto/tokens.js";
import { ServerKeys } from "../../src/crypto/server-keys.js";
import { newWebhookSecret } from "../../src/domain/applications.js";
import { REPO_ROOT } from "../support/multi-process-helper.js";

const SESSION_DEADLINE_MS = 100_000; // under tap's 120 s per file
const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

interface Block {
  index: number;
  line: number;
  code: string;
}

/** The ```sh blocks, in order, with the README line each starts on. */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const end = lines.indexOf("```", i + 1);
    if (end === -1) throw new Error(`README line ${i + 1}: a \`\`\`sh block is never closed`);
    blocks.push({ index: blocks.length + 1, line: i + 1, code: lines.slice(i + 1, end).join("\n") });
    i = end;
  }
  return blocks;
}

/** The ```js blocks README names a file for (first line `// name.mjs: …`): the files a user saves. */
function savedScripts(markdown: string): { name: string; line: number; code: string }[] {
  const scripts: { name: string; line: number; code: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```js") continue;
    const end = lines.indexOf("```", i + 1);
    const name = /^\/\/ ([\w.-]+\.m?js)\b/.exec(lines[i + 1] ?? "")?.[1];
    if (name) scripts.push({ name, line: i + 1, code: `${lines.slice(i + 1, end).join("\n")}\n` });
    i = end;
  }
  return scripts;
}

const NPM_START = /^(\s*)((?:[A-Za-z_][A-Za-z0-9_]*=\S.*\s)?)npm start\s*$/;

/** Whether a curl command line fails on an HTTP error: one of its options is -f (alone or grouped, -fsS) or --fail. */
function curlFails(code: string): boolean {
  const at = code.search(/(?:^|[\s;&|(])curl\s/);
  if (at === -1) return true;
  return code
    .slice(at)
    .split(/\s+/)
    .some((arg) => /^-[A-Za-z]*f[A-Za-z]*$/.test(arg) || /^--fail(?:-with-body)?$/.test(arg));
}

/** A block as the session runs it, or the reason it cannot be part of the walkthrough. */
function translate(block: Block): string {
  return (
    block.code
      .split("\n")
      .map((line, offset) => {
        const code = line.replace(/(^|\s)#.*$/, "");
        if (/^\s*npm install\s*$/.test(code)) return line.replace("npm install", "__readme_skip npm install");
        const start = NPM_START.exec(code);
        if (start) return `${start[1]}${start[2]}__readme_npm_start`;
        if (!curlFails(code)) {
          throw new Error(
            `README line ${block.line + 1 + offset}: \`${line.trim()}\` in a \`\`\`sh block has no -f: an HTTP error ` +
              "would exit 0 and the walkthrough would go on as if it had worked; use curl -fsS",
          );
        }
        const stray = /(?:^|[\s;&|(])(npm|npx)\s+(\S+)/.exec(code);
        if (stray && !(stray[1] === "npx" && stray[2] === "appgrant")) {
          throw new Error(
            `README line ${block.line + 1 + offset}: \`${line.trim()}\` in a \`\`\`sh block is not part of the walkthrough ` +
              "(the README test runs every ```sh block); put it in a ```console or ```text block",
          );
        }
        return line;
      })
      .join("\n")
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable the script sets, not a JavaScript placeholder
      .replace(/\b(?:127\.0\.0\.1|localhost):3000\b/g, "127.0.0.1:${__README_PORT}")
  );
}

t.test("the Node.js versions README names are the ones the dependencies declare, and every dependency runs on them", async (t) => {
  const semver = createRequire(import.meta.url)("semver") as {
    satisfies(version: string, range: string): boolean;
    minVersion(range: string): { major: number; minor: number } | null;
  };
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { engines?: { node?: unknown } }>;
  };
  const minimums = pkg.engines.node.split("||").map((range) => semver.minVersion(range.trim())!);
  t.ok(minimums.length > 0);
  const quickStart = README.slice(README.indexOf("## Quick start"), README.indexOf("## Create an application"));
  for (const { major, minor } of minimums) {
    t.match(quickStart, `${major}.${minor}`, `README's quick start names Node.js ${major}.${minor}`);
    const version = `${major}.${minor}.0`;
    const refusing = Object.entries(lock.packages).filter(
      ([, entry]) => typeof entry.engines?.node === "string" && !semver.satisfies(version, entry.engines.node),
    );
    t.same(
      refusing.map(([path, entry]) => `${path}: ${String(entry.engines?.node)}`),
      [],
      `every installed package accepts Node.js ${version} (no EBADENGINE)`,
    );
  }
});

t.test("the partner-program onboarding table: each regular expression matches real credentials of its kind, and nothing else", async (t) => {
  const section = README.slice(README.indexOf("### Partner-program onboarding data"), README.indexOf("## Prisma Studio"));
  const rows = [...section.matchAll(/^\| ([^|]+) \| `([a-z_]+)` \| `([^`]+)` \|/gm)].map(([, kind, prefix, pattern]) => ({
    kind: kind!.trim(),
    prefix: prefix!,
    regex: new RegExp(pattern!, "g"),
  }));
  t.same(
    rows.map((row) => row.prefix).sort(),
    [...Object.values(PREFIXES), "whsec_"].sort(),
    "one row per credential prefix appgrant issues (and the Standard Webhooks one)",
  );
  const keys = new ServerKeys([randomBytes(32).toString("hex")]);
  const real = (prefix: string): string[] => {
    const kind = (Object.keys(PREFIXES) as CredentialKind[]).find((name) => PREFIXES[name] === prefix);
    return Array.from({ length: 50 }, () => (kind ? generateCredential(kind) : newWebhookSecret({ secretKey: keys }).webhookSecret));
  };
  const samples = new Map(rows.map((row) => [row.prefix, real(row.prefix)]));
  const matches = (regex: RegExp, text: string) => [...text.matchAll(regex)].map((match) => match[0]);
  for (const row of rows) {
    for (const value of samples.get(row.prefix)!) {
      t.same(matches(row.regex, value), [value], `${row.kind}: matches ${value.slice(0, 6)}…`);
      t.same(matches(row.regex, `export TOKEN="${value}"\n`), [value], `${row.kind}: found inside text, exactly`);
    }
    for (const [prefix, values] of samples) {
      if (prefix === row.prefix) continue;
      for (const value of values) t.same(matches(row.regex, value), [], `${row.kind}: does not match a ${prefix} credential`);
    }
    const body = samples.get(row.prefix)![0]!.slice(row.prefix.length);
    for (const nearMiss of [
      row.prefix + body.slice(1), // one character short
      `${row.prefix + body}Q`.replace(/=Q$/, "QQ"), // one too many (for whsec_: no padding where it belongs)
      row.prefix.toUpperCase() + body, // another prefix
      `x${row.prefix}${body}`, // inside a longer word
    ]) {
      t.same(matches(row.regex, nearMiss), [], `${row.kind}: does not match ${nearMiss.slice(0, 8)}…`);
    }
  }
  // The checksum, implemented from README's words alone, agrees with every credential issued.
  const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const base62 = (value: number, length: number) => {
    let out = "";
    for (let i = 0; i < length; i++, value = Math.floor(value / 62)) out = digits[value % 62] + out;
    return out;
  };
  t.match(section, /CRC-32 \(IEEE 802\.3, as\s+zlib's `crc32`\) of the prefix and those 43 characters/);
  for (const [prefix, values] of samples) {
    if (prefix === "whsec_") continue;
    for (const value of values) t.equal(value.slice(-6), base62(crc32(value.slice(0, -6)) >>> 0, 6), `${prefix}: the checksum is as README says`);
  }
});

t.test("README's ```sh blocks run top to bottom, as written, against a fresh server", async (t) => {
  const blocks = shellBlocks(README);
  t.ok(blocks.length >= 8, `the walkthrough has its blocks (${blocks.length})`);
  const translated = blocks.map((block) => ({ ...block, script: translate(block) }));

  const dir = mkdtempSync(join(tmpdir(), "appgrant-readme-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const home = join(dir, "home");
  const work = join(dir, "work");
  mkdirSync(home);
  mkdirSync(join(work, "node_modules", ".bin"), { recursive: true });
  const tsx = import.meta.resolve("tsx");
  const shim = join(work, "node_modules", ".bin", "appgrant");
  writeFileSync(shim, `#!/bin/sh\nexec node --import ${tsx} ${join(REPO_ROOT, "src", "cli", "main.ts")} "$@"\n`);
  chmodSync(shim, 0o755);
  // The user's checkout has jose installed (a dependency); the scripts README has them save import it.
  symlinkSync(join(REPO_ROOT, "node_modules", "jose"), join(work, "node_modules", "jose"));
  const scripts = savedScripts(README);
  for (const script of scripts) writeFileSync(join(work, script.name), script.code);
  writeFileSync(join(home, ".curlrc"), "max-time = 20\nnoproxy = *\n");
  const serverLog = join(dir, "server.log");

  const prelude = String.raw`
set -o pipefail
set -E
__README_BLOCK=0
__README_PID=
__README_PORT=3000
trap 'echo "__README_FAIL block=$__README_BLOCK status=$? command=$BASH_COMMAND" >&2' ERR
__readme_skip() { echo "(README test: skipped '$*': the checkout is installed)"; }
__readme_stop() {
  if [ -n "$__README_PID" ]; then kill -TERM "$__README_PID" 2>/dev/null; wait "$__README_PID" 2>/dev/null; fi
  __README_PID=
  return 0
}
__readme_npm_start() {
  __readme_stop
  : > ${serverLog}
  PORT=0 HOST=127.0.0.1 node --import ${tsx} ${join(REPO_ROOT, "src", "main", "server.ts")} >> ${serverLog} 2>&1 &
  __README_PID=$!
  local i
  for i in $(seq 1 400); do
    __README_PORT=$(sed -n 's/.*Server listening at http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' ${serverLog} | head -n 1)
    if [ -n "$__README_PORT" ] && curl -fsS "http://127.0.0.1:$__README_PORT/readyz" > /dev/null 2>&1; then
      echo "(README test: server started on port $__README_PORT)"
      return 0
    fi
    if ! kill -0 "$__README_PID" 2>/dev/null; then echo "(README test: the server exited)" >&2; cat ${serverLog} >&2; return 1; fi
    sleep 0.1
  done
  echo "(README test: the server was not ready in 40 s)" >&2
  return 1
}
`;
  const body = translated
    .map(
      ({ index, line, script }) =>
        `__README_BLOCK=${index}\necho "__README_BEGIN ${index} (README line ${line})"\n${script}\necho "__README_END ${index}"\n`,
    )
    .join("\n");
  const epilogue = `__readme_stop\necho "__README_TOKENS \${ACCESS_TOKEN:-} \${REFRESH_TOKEN:-}"\n`;
  writeFileSync(join(dir, "session.sh"), `${prelude}\n${body}\n${epilogue}`);

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    CURL_HOME: home,
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
    npm_config_cache: join(home, ".npm"),
    no_proxy: "*",
    NO_PROXY: "*",
    LANG: "C.UTF-8",
  };
  const bash = spawn("bash", [join(dir, "session.sh")], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  bash.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
  bash.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const killGroup = () => {
    try {
      process.kill(-bash.pid!, "SIGKILL"); // the session and the server it started, nothing else
    } catch {
      // already gone
    }
  };
  t.teardown(killGroup);
  const status = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      killGroup();
      resolve(`killed after ${SESSION_DEADLINE_MS} ms`);
    }, SESSION_DEADLINE_MS);
    bash.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? String(signal));
    });
  });
  t.teardown(() => {
    // README_TEST_SHOW=1 shows what a user would see, pass or fail.
    if (t.passing() === false || process.env.README_TEST_SHOW) {
      t.comment(`--- session stdout ---\n${stdout.slice(-6000)}\n--- session stderr ---\n${stderr.slice(-6000)}`);
      try {
        t.comment(`--- server log ---\n${readFileSync(serverLog, "utf8").split("\n").slice(-20).join("\n")}`);
      } catch {
        // no server was started
      }
    }
  });

  t.equal(status, 0, "the session ends normally");
  t.same(
    stderr.split("\n").filter((line) => line.startsWith("__README_FAIL")),
    [],
    "no command failed",
  );
  for (const { index, line } of translated) {
    t.ok(stdout.includes(`__README_END ${index}\n`), `block ${index} (README line ${line}) ran to its end`);
  }
  const [, accessToken = "", refreshToken = ""] = /__README_TOKENS (\S*) (\S*)/.exec(stdout) ?? [];
  t.ok(isWellFormed("accessToken", accessToken), "the token step got an access token");
  t.ok(isWellFormed("refreshToken", refreshToken), "…and a refresh token");
  t.match(stdout, /"active":true/, "introspection showed the token active");
  t.match(stdout, /\{"active":false\}/, "…and inactive after the uninstall");
  t.ok(
    scripts.some((script) => script.name === "mint.mjs"),
    "README's jose script was saved as mint.mjs",
  );
  const installationToken = /"access_token":"(agi_[^"]*)"/.exec(stdout)?.[1] ?? "";
  t.ok(isWellFormed("installationToken", installationToken), "node mint.mjs got an installation access token (private_key_jwt)");
  const githubToken = /"token":"(agi_[^"]*)"/.exec(stdout)?.[1] ?? "";
  t.ok(isWellFormed("installationToken", githubToken), "…and the GitHub-compatible endpoint one for the app JWT");
  t.not(githubToken, installationToken);
});
