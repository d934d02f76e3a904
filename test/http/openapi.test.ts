// openapi.yaml is a contract platforms and app developers code against. It is generated
// from the route schemas (scripts/openapi.ts), so its shapes are the routes' own; these
// tests keep the committed copy current, valid, complete, and saying what a reader needs.
import { readFileSync } from "node:fs";
import { dereference, validate } from "@readme/openapi-parser";
import type { FastifyInstance } from "fastify";
import t from "tap";
import { parse } from "yaml";
import { generateOpenApi, TARGET } from "../../scripts/openapi.js";
import { buildTestApp } from "../support/helper.js";

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

type Json = Record<string, unknown>;
type Operation = {
  summary?: string;
  tags?: string[];
  security?: Json[];
  responses: Record<string, { description: string; content?: Record<string, { schema: Json }> }>;
};
type Spec = { paths: Record<string, Record<string, unknown>> };

const committed = () => readFileSync(TARGET, "utf8");
const loadSpec = (): Json => parse(committed()) as Json;

/** Fastify's `:id` is OpenAPI's `{id}`. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** The document's own pages (GET /openapi.json, /docs…), which it does not describe. */
const isDocsRoute = (route: string) => / \/openapi\.json$| \/docs(\/.*)?$/.test(route);

function* operations(spec: Spec): Generator<[string, Operation]> {
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) {
      if (item[method] !== undefined) yield [`${method.toUpperCase()} ${path}`, item[method] as Operation];
    }
  }
}

/**
 * The routes the router actually holds, read from Fastify's own route tree (the
 * public printRoutes): unlike a hook, this cannot miss a route registered some
 * other way. Each line is `<indent>├── <segment> (METHODS)`, indented four
 * characters per level, and a segment continues its parent's path.
 */
function registeredRoutes(app: FastifyInstance): Set<string> {
  const pairs = new Set<string>();
  const pathAtDepth: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    // A node without a handler of its own may be printed with "(-)" instead of methods.
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \((-|[A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (depth > 0 ? pathAtDepth[depth - 1]! : "") + match[2]!;
    pathAtDepth[depth] = path;
    const methods = match[3] === undefined || match[3] === "-" ? [] : match[3].split(", ");
    for (const method of methods) pairs.add(`${method} ${toOpenApiPath(path)}`);
  }
  // Fastify adds a HEAD route for every GET by itself; the document describes the GET.
  for (const pair of [...pairs]) if (pair.startsWith("HEAD ") && pairs.has(`GET ${pair.slice(5)}`)) pairs.delete(pair);
  return pairs;
}

t.test("the committed openapi.yaml is what the route schemas generate", async (t) => {
  const generated = await generateOpenApi();
  t.ok(generated === committed(), "openapi.yaml is stale: run `npm run openapi` and commit the result");
  if (generated !== committed()) t.comment("run `npm run openapi` to regenerate openapi.yaml from the route schemas");
});

t.test("openapi.yaml is a valid OpenAPI 3.1 document", async (t) => {
  const spec = loadSpec();
  t.equal(spec.openapi, "3.1.0");
  const result = await validate(loadSpec() as never);
  t.ok(result.valid, "the validator accepts the document");
  if (!result.valid) t.comment(result.errors.map((e) => e.message).join("\n"));
  t.same(result.warnings, [], "and has no warnings");
});

t.test("the validator is not a rubber stamp: it rejects a broken copy", async (t) => {
  const spec = loadSpec() as unknown as Spec;
  // A path template whose parameter is no longer declared.
  delete (spec.paths["/admin/v1/applications/{id}"]!.get as Json).parameters;
  const result = await validate(spec as never);
  t.notOk(result.valid);
});

t.test("the server registers exactly the routes the document describes", async (t) => {
  const { app } = await buildTestApp(t);
  const registered = registeredRoutes(app);
  t.ok(registered.has("GET /healthz") && registered.has("GET /admin/v1/applications/{id}"), "the route tree was read");
  t.ok(registered.has("GET /openapi.json") && registered.has("GET /docs"), "the documentation pages are served");
  const documented = [...operations(loadSpec() as unknown as Spec)].map(([name]) => name);
  t.same(documented.filter(isDocsRoute), [], "the document does not describe its own pages");
  t.same([...registered].filter((route) => !isDocsRoute(route)).sort(), documented.sort());
});

t.test("every operation is documented for a reader: summary, tag, security, its auth answers", async (t) => {
  const spec = loadSpec() as unknown as Spec & { tags: Array<{ name: string }> };
  const tags = new Set(spec.tags.map((tag) => tag.name));
  for (const [name, operation] of operations(spec)) {
    t.ok(operation.summary, `${name}: has a summary`);
    t.ok(operation.tags?.length === 1 && tags.has(operation.tags[0]!), `${name}: has one declared tag`);
    t.ok(Array.isArray(operation.security), `${name}: says who may call it`);
    for (const [status, response] of Object.entries(operation.responses)) {
      t.not(response.description, "Default Response", `${name} ${status}: the response is described`);
    }
    if (name.includes(" /admin/v1/")) {
      t.same(operation.security, [{ adminToken: [] }], `${name}: needs the admin token`);
      t.ok("401" in operation.responses && "503" in operation.responses, `${name}: documents the auth hook's 401 and 503`);
    }
  }
});

t.test("every documented response that carries a secret says it is shown once", async (t) => {
  const spec = (await dereference(loadSpec() as never)) as unknown as Spec;
  // `code` alone is also the admin error's machine-readable code; an authorization
  // code always travels with its expiry.
  const carriesSecret = (properties: Json) =>
    ["client_secret", "webhook_secret", "access_token", "refresh_token"].some((field) => field in properties) ||
    ("code" in properties && "code_expires_at" in properties);
  let carriers = 0;
  for (const [name, operation] of operations(spec)) {
    for (const [status, response] of Object.entries(operation.responses)) {
      const properties = (response.content?.["application/json"]?.schema?.properties ?? {}) as Json;
      if (!carriesSecret(properties)) continue;
      carriers++;
      t.match(response.description, /shown once|only response/i, `${name} ${status}`);
    }
  }
  t.ok(carriers >= 6, "the application, secret, webhook secret, installation, code and token responses were all found");
});

t.test("an optional body (one that may be null) is documented as optional", async (t) => {
  const spec = loadSpec() as unknown as Spec;
  const addSecret = spec.paths["/admin/v1/applications/{id}/secrets"]!.post as { requestBody: { required: boolean } };
  t.equal(addSecret.requestBody.required, false);
  const create = spec.paths["/admin/v1/applications"]!.post as { requestBody: { required: boolean } };
  t.equal(create.requestBody.required, true);
});
