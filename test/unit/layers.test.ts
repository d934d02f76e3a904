// The dependency rule of ARCHITECTURE.md, checked by walking every import of src/:
// a folder may import only the layers listed for it (storage, of oauth/, domain/ and
// webhooks/, only the modules listed in STORAGE_IMPORTS), and only http/ and main/ may
// import Fastify. A change that breaks the rule fails here, with the offending line.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** For each layer, the layers it may import at run time (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  shared: [],
  crypto: ["shared"],
  oauth: ["shared", "crypto"],
  domain: ["shared", "crypto"],
  webhooks: ["shared", "crypto", "domain"],
  storage: ["shared", "crypto", "oauth", "domain", "webhooks"],
  http: ["shared", "crypto", "oauth", "domain", "webhooks"],
  cli: ["shared", "crypto", "oauth", "domain", "webhooks", "storage", "main"],
  main: ["shared", "crypto", "oauth", "domain", "webhooks", "storage", "http"],
};

/**
 * Storage implements the ports of the layers above it, and reaches them no further: of
 * oauth/, domain/ and webhooks/ it may import only these modules. "types": a port (the
 * interfaces and records it implements), imported as types only. "code": a module it
 * also runs, each for the one reason given.
 */
export const STORAGE_IMPORTS: Record<string, "types" | "code"> = {
  "oauth/token-store.ts": "types",
  "oauth/client-assertion.ts": "types",
  "oauth/installation-token.ts": "types",
  // SLOW_DOWN_STEP: how much slowDown() adds, part of the DeviceCodeStore contract.
  "oauth/device-authorization.ts": "code",
  "domain/ports.ts": "types",
  // eventRow and deliveryRow: the rows a revocation inserts in its own transaction
  // (storage/event-rows.ts), built by the domain's pure functions, no I/O.
  "domain/events.ts": "code",
  "webhooks/outbox-store.ts": "types",
};
/** The layers storage reaches only through the modules of STORAGE_IMPORTS. */
const PORT_LAYERS = new Set(["oauth", "domain", "webhooks"]);

/**
 * The generated Prisma clients are the data model: storage uses them, and the layers
 * above may name their types (`import type`), never run them.
 */
const GENERATED = "generated";
const GENERATED_RUNTIME = new Set(["storage"]);

/** Packages that belong to one layer: the web framework to http/ (and main/, which composes it), the drivers to storage/. */
const PACKAGES: { pattern: RegExp; layers: readonly string[] }[] = [
  { pattern: /^(fastify|@fastify\/|light-my-request)/, layers: ["http", "main"] },
  { pattern: /^(pg|better-sqlite3|ioredis|@prisma\/)/, layers: ["storage"] },
  // The OpenTelemetry SDK is main's adapter (src/main/tracing.ts); the layers trace through src/shared/tracing.ts.
  { pattern: /^@opentelemetry\//, layers: ["main"] },
];

interface Import {
  file: string;
  line: number;
  specifier: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === GENERATED ? [] : sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Static imports, re-exports and dynamic import() calls, with whether they are type-only. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const found: Import[] = [];
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;
  const statement = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["']([^"']+)["']/gms;
  for (const match of text.matchAll(statement)) {
    const clause = match[3]!;
    // `import { type A, type B }` erases entirely, like `import type`.
    const allTypes =
      /^\{[^}]*\}$/s.test(clause.trim()) &&
      clause
        .replace(/[{}\s]/g, "")
        .split(",")
        .filter(Boolean)
        .every((name) => name.startsWith("type"));
    found.push({ file, line: lineOf(match.index), specifier: match[4]!, typeOnly: match[2] !== undefined || allTypes });
  }
  for (const match of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm))
    found.push({ file, line: lineOf(match.index), specifier: match[1]!, typeOnly: false });
  for (const match of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g))
    found.push({ file, line: lineOf(match.index), specifier: match[1]!, typeOnly: false });
  return found;
}

const layerOf = (file: string) => relative(SRC, file).split("/")[0]!;

function violation(imp: Import): string | undefined {
  const from = layerOf(imp.file);
  const where = `${relative(SRC, imp.file)}:${imp.line} imports "${imp.specifier}"`;
  if (!imp.specifier.startsWith(".")) {
    const rule = PACKAGES.find((candidate) => candidate.pattern.test(imp.specifier));
    if (rule && !rule.layers.includes(from)) return `${where}: only ${rule.layers.join(", ")} may use it`;
    return undefined;
  }
  const target = normalize(join(dirname(imp.file), imp.specifier));
  const to = layerOf(target);
  if (to === from) return undefined;
  if (to === GENERATED)
    return imp.typeOnly || GENERATED_RUNTIME.has(from) ? undefined : `${where}: only storage runs the Prisma client; use import type`;
  const allowed = ALLOWED[from];
  if (allowed === undefined) return `${where}: ${from}/ is not a layer of ARCHITECTURE.md`;
  if (!allowed.includes(to)) return `${where}: ${from}/ may import ${allowed.join(", ") || "nothing"}, not ${to}/`;
  if (from === "storage" && PORT_LAYERS.has(to)) {
    const module = relative(SRC, target).replace(/\.js$/, ".ts");
    const permitted = STORAGE_IMPORTS[module];
    if (permitted === undefined) return `${where}: storage may import of ${to}/ only the ports it implements (STORAGE_IMPORTS), not ${module}`;
    if (permitted === "types" && !imp.typeOnly) return `${where}: ${module} is a port, for storage to implement: use import type`;
  }
  return undefined;
}

t.test("every folder of src/ is a layer", async (t) => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name !== GENERATED);
  t.same(folders.map((entry) => entry.name).sort(), Object.keys(ALLOWED).sort());
  t.same(
    readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name),
    [],
    "no file outside a layer",
  );
});

t.test("every module storage may import exists", async (t) => {
  t.same(
    Object.keys(STORAGE_IMPORTS).filter((module) => !existsSync(join(SRC, module))),
    [],
    "STORAGE_IMPORTS names no file that moved or went",
  );
});

t.test("imports follow the dependency rule", async (t) => {
  const files = sourceFiles(SRC);
  t.ok(files.length > 50, "the walk found the sources");
  const problems = files.flatMap(importsOf).flatMap((imp) => violation(imp) ?? []);
  t.same(problems, [], "no import crosses a layer the wrong way");
});

t.test("the rule catches what it forbids", async (t) => {
  const at = (layer: string) => join(SRC, layer, "x.ts");
  t.ok(violation({ file: at("domain"), line: 1, specifier: "../http/admin/plugin.js", typeOnly: false }), "domain → http");
  t.ok(violation({ file: at("oauth"), line: 1, specifier: "../storage/client.js", typeOnly: true }), "oauth → storage, even for a type");
  t.ok(violation({ file: at("domain"), line: 1, specifier: "../generated/prisma/client.js", typeOnly: false }), "running Prisma outside storage");
  t.notOk(violation({ file: at("domain"), line: 1, specifier: "../generated/prisma/client.js", typeOnly: true }), "naming the model's types");
  t.ok(violation({ file: at("oauth"), line: 1, specifier: "fastify", typeOnly: false }), "Fastify outside http and main");
  t.ok(violation({ file: at("http"), line: 1, specifier: "pg", typeOnly: false }), "a driver outside storage");
  t.notOk(violation({ file: at("main"), line: 1, specifier: "../http/oauth/plugin.js", typeOnly: false }), "main composes http");
  t.ok(violation({ file: at("storage"), line: 1, specifier: "../domain/applications.js", typeOnly: false }), "storage → a domain use case");
  t.ok(
    violation({ file: at("storage"), line: 1, specifier: "../oauth/grants/refresh-token.js", typeOnly: true }),
    "storage → a grant, even for a type",
  );
  t.ok(violation({ file: at("storage"), line: 1, specifier: "../webhooks/outbox.js", typeOnly: false }), "storage → the outbox worker");
  t.ok(violation({ file: at("storage"), line: 1, specifier: "../oauth/installation-token.js", typeOnly: false }), "running a port module's code");
  t.notOk(violation({ file: at("storage"), line: 1, specifier: "../oauth/installation-token.js", typeOnly: true }), "naming the port's types");
  t.notOk(violation({ file: at("storage"), line: 1, specifier: "../domain/events.js", typeOnly: false }), "the event row builders");
  t.notOk(violation({ file: at("storage"), line: 1, specifier: "../crypto/encryption.js", typeOnly: false }), "crypto, any module");
  t.same(
    importsOf(fileURLToPath(new URL("../../src/main/app.ts", import.meta.url))).filter((imp) => imp.specifier === "fastify").length,
    1,
    "the parser sees a real import",
  );
});

t.test("OpenTelemetry is loaded only when tracing is on: imported as types, or with import()", async (t) => {
  const files = sourceFiles(SRC);
  const loaded = files
    .flatMap(importsOf)
    .filter((imp) => imp.specifier.startsWith("@opentelemetry/") && !imp.typeOnly)
    .filter((imp) => !readFileSync(imp.file, "utf8").split("\n")[imp.line - 1]!.includes("import("))
    .map((imp) => `${relative(SRC, imp.file)}:${imp.line} ${imp.specifier}`);
  t.same(loaded, [], "no static import of the SDK");
  t.ok(violation({ file: join(SRC, "storage", "x.ts"), line: 1, specifier: "@opentelemetry/api", typeOnly: false }), "the SDK outside main");
});

t.test("the environment is read in one place: src/main/config.ts", async (t) => {
  const readers = sourceFiles(SRC)
    .filter((file) => /\bprocess\.env\b/.test(readFileSync(file, "utf8")))
    .map((file) => relative(SRC, file));
  t.same(readers, ["main/config.ts"]);
});
