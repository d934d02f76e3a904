// openapi.yaml is a contract platforms and app developers code against, so it must
// stay a valid document and describe exactly what the server registers, with the
// same shapes the routes validate and serialise.
import { readFileSync } from "node:fs";
import { dereference, validate } from "@readme/openapi-parser";
import * as fastifyModule from "fastify";
import type { FastifyInstance, RouteOptions } from "fastify";
import t, { type Test } from "tap";
import { parse } from "yaml";

/**
 * Routes the document describes ahead of their implementation ("POST /path"), so a
 * contract can be reviewed before its code lands. Remove an entry when its route is
 * registered: the test fails while a listed route exists, so the list cannot go stale.
 */
const PENDING: string[] = [];

const SPEC_PATH = new URL("../../openapi.yaml", import.meta.url);
const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

type Json = Record<string, unknown>;
type Operation = {
  security?: Json[];
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: Json }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Json }> }>;
};
type Spec = { paths: Record<string, Record<string, unknown>> };

const loadSpec = (): Json => parse(readFileSync(SPEC_PATH, "utf8")) as Json;

/** Fastify's `:id` is OpenAPI's `{id}`. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** "METHOD /path" for every operation of the document. */
function documentedRoutes(spec: Spec): Set<string> {
  const routes = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) if (item[method] !== undefined) routes.add(`${method.toUpperCase()} ${path}`);
  }
  return routes;
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

/**
 * buildTestApp with Fastify wrapped so that an onRoute hook sees every route's
 * options, schema included (Fastify offers no way to read them back later).
 */
async function buildObservedApp(t: Test): Promise<{ app: FastifyInstance; routes: RouteOptions[] }> {
  const routes: RouteOptions[] = [];
  const create = fastifyModule.default as unknown as (options?: object) => FastifyInstance;
  const observed = ((options?: object) => {
    const app = create(options);
    app.addHook("onRoute", (route) => {
      routes.push(route);
    });
    return app;
  }) as unknown as typeof fastifyModule.default;
  const helper = await t.mockImport<typeof import("../support/helper.js")>("../support/helper.js", {
    fastify: { ...fastifyModule, default: observed, fastify: observed },
  });
  const { app } = await helper.buildTestApp(t);
  return { app, routes };
}

// The keywords that make up a schema's substance; anything else must be listed as
// documentation-only, so a new validation keyword in the code cannot slip past.
const SUBSTANCE = [
  "type",
  "enum",
  "const",
  "format",
  "default",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "additionalProperties",
] as const;
const DOCUMENTATION_ONLY = new Set(["description", "examples", "example", "title"]);

/** A schema reduced to what it validates or serialises, comparable with t.same. */
function substance(schema: unknown, where: string): unknown {
  if (typeof schema !== "object" || schema === null) throw new Error(`${where}: not a schema`);
  const input = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(input)) {
    if (DOCUMENTATION_ONLY.has(key)) continue;
    if (key === "type") out.type = [value].flat().sort();
    else if (key === "required") out.required = [...(value as string[])].sort();
    else if (key === "items") out.items = substance(value, `${where}.items`);
    else if (key === "properties") {
      out.properties = Object.fromEntries(Object.entries(value as Json).map(([name, sub]) => [name, substance(sub, `${where}.${name}`)]));
    } else if ((SUBSTANCE as readonly string[]).includes(key)) out[key] = value;
    else throw new Error(`${where}: keyword "${key}" is not compared by this test; add it to SUBSTANCE or DOCUMENTATION_ONLY`);
  }
  return out;
}

/** An object schema's field names and which of them are required. */
function fields(schema: unknown): { properties: string[]; required: string[] } {
  const object = schema as { properties?: Json; required?: string[] };
  return { properties: Object.keys(object.properties ?? {}).sort(), required: [...(object.required ?? [])].sort() };
}

/** A Fastify params/querystring object schema as {name: {required, schema}}. */
function fastifyParameters(schema: unknown): Json {
  if (schema === undefined) return {};
  const object = schema as { properties: Json; required?: string[] };
  return Object.fromEntries(
    Object.entries(object.properties).map(([name, sub]) => [
      name,
      { required: object.required?.includes(name) ?? false, schema: substance(sub, name) },
    ]),
  );
}

function documentedParameters(operation: Operation, pathItem: Json, location: "path" | "query"): Json {
  const all = [...((pathItem.parameters as Operation["parameters"]) ?? []), ...(operation.parameters ?? [])];
  return Object.fromEntries(
    all.filter((p) => p.in === location).map((p) => [p.name, { required: p.required ?? false, schema: substance(p.schema, p.name) }]),
  );
}

const isSuccess = (status: string) => /^2\d\d$/.test(status);

t.test("openapi.yaml is a valid OpenAPI 3.1 document", async (t) => {
  const spec = loadSpec();
  t.equal(spec.openapi, "3.1.0");
  const result = await validate(loadSpec() as never);
  t.ok(result.valid, "the validator accepts the document");
  if (!result.valid) t.comment(result.errors.map((e) => e.message).join("\n"));
  t.same(result.warnings, [], "and has no warnings");
});

// JSON Schema tolerates unknown keywords, so neither the validator nor a reader
// notices prose that YAML split into a key (`description: a, b` in a flow mapping).
const SCHEMA_KEYWORDS = new Set<string>([
  ...SUBSTANCE,
  ...DOCUMENTATION_ONLY,
  "properties",
  "items",
  "required",
  "pattern",
  "allOf",
  "oneOf",
  "discriminator",
  "$ref",
]);

function unknownKeywords(schema: unknown, where: string): string[] {
  if (typeof schema !== "object" || schema === null) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(schema as Json)) {
    if (!SCHEMA_KEYWORDS.has(key)) found.push(`${where}/${key}`);
    else if (key === "properties") {
      for (const [name, sub] of Object.entries(value as Json)) found.push(...unknownKeywords(sub, `${where}/properties/${name}`));
    } else if (key === "items") found.push(...unknownKeywords(value, `${where}/items`));
    else if (key === "allOf" || key === "oneOf") {
      for (const [i, sub] of (value as unknown[]).entries()) found.push(...unknownKeywords(sub, `${where}/${key}/${i}`));
    }
  }
  return found;
}

/** Every schema object of the document, with where it is. */
function* schemasOf(node: unknown, where: string): Generator<[string, unknown]> {
  if (typeof node !== "object" || node === null) return;
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === "schema") yield [`${where}/schema`, value];
    else if (key === "schemas" && where === "/components") {
      for (const [name, schema] of Object.entries(value as Json)) yield [`${where}/schemas/${name}`, schema];
    } else yield* schemasOf(value, `${where}/${key}`);
  }
}

t.test("every schema in openapi.yaml uses only known keywords", async (t) => {
  const stray = [...schemasOf(loadSpec(), "")].flatMap(([where, schema]) => unknownKeywords(schema, where));
  t.same(stray, []);
});

t.test("the validator is not a rubber stamp: it rejects a broken copy", async (t) => {
  const spec = loadSpec() as unknown as Spec;
  // A path template whose parameter is no longer declared.
  delete spec.paths["/admin/v1/applications/{id}"]!.parameters;
  const result = await validate(spec as never);
  t.notOk(result.valid);
});

t.test("the server registers exactly the routes the document describes", async (t) => {
  const { app } = await buildObservedApp(t);
  const registered = registeredRoutes(app);
  const documented = documentedRoutes(loadSpec() as unknown as Spec);
  t.ok(registered.has("GET /healthz") && registered.has("GET /admin/v1/applications/{id}"), "the route tree was read");

  for (const route of PENDING) {
    t.notOk(registered.has(route), `pending ${route} is not registered yet (once it is, remove it from PENDING)`);
    t.ok(documented.has(route), `pending ${route} is documented`);
  }
  const expected = [...documented].filter((route) => !PENDING.includes(route)).sort();
  t.same([...registered].sort(), expected);
});

t.test("every route's documented statuses and shapes match its Fastify schema", async (t) => {
  const { app, routes } = await buildObservedApp(t);
  const spec = (await dereference(loadSpec() as never)) as unknown as Spec;

  const observed = routes.filter((route) => route.method !== "HEAD");
  t.same(
    observed.map((route) => `${String(route.method)} ${toOpenApiPath(route.url)}`).sort(),
    [...registeredRoutes(app)].sort(),
    "the hook saw every registered route, so none escapes the checks below",
  );

  for (const route of observed) {
    const method = String(route.method).toLowerCase();
    const path = toOpenApiPath(route.url);
    const name = `${method.toUpperCase()} ${path}`;
    const pathItem = (spec.paths[path] ?? {}) as Json;
    const operation = pathItem[method] as Operation | undefined;
    if (operation === undefined) {
      t.fail(`${name} is registered but not documented`);
      continue;
    }
    const schema = (route.schema ?? {}) as { body?: unknown; params?: unknown; querystring?: unknown; response?: Json };
    const declared = schema.response ?? {};
    const documented = operation.responses;

    if (Object.keys(declared).length === 0) {
      // Only a browser-facing route (redirects and HTML pages) may go without response
      // schemas, and then it has no JSON body to compare.
      const json = Object.values(documented).filter((response) => response.content?.["application/json"] !== undefined);
      t.same(json, [], `${name}: declares no response schema, so documents no JSON response`);
      continue;
    }
    t.ok(Object.keys(declared).some(isSuccess), `${name}: the route declares its success response`);
    for (const status of Object.keys(declared).filter(isSuccess)) {
      t.ok(status in documented, `${name}: documents its success status ${status}`);
    }

    // The OAuth endpoints read their parameters themselves (each grant declares its own)
    // and document narrower values (`token_type: Bearer`) than their serialisers check,
    // so for them the success bodies are compared field by field. Everything else is
    // compared shape for shape.
    if (path.startsWith("/oauth/")) {
      for (const status of Object.keys(declared).filter(isSuccess)) {
        const json = documented[status]?.content?.["application/json"]?.schema;
        if (json === undefined) t.same(declared[status], { type: "null" }, `${name} ${status}: documented without a body, so the route sends none`);
        else t.same(fields(json), fields(declared[status]), `${name} ${status}: same fields`);
      }
      continue;
    }

    t.same(Object.keys(documented).filter(isSuccess), Object.keys(declared).filter(isSuccess), `${name}: same success statuses`);
    for (const [status, response] of Object.entries(documented)) {
      t.ok(status in declared, `${name}: documented status ${status} has a response schema in the route`);
      if (!(status in declared)) continue;
      const json = response.content?.["application/json"]?.schema;
      if (json === undefined) {
        t.same(declared[status], { type: "null" }, `${name} ${status}: documented without a body, so the route sends none`);
      } else {
        t.same(substance(json, `openapi ${name} ${status}`), substance(declared[status], `route ${name} ${status}`), `${name} ${status}: same shape`);
      }
    }

    if (schema.body === undefined) {
      t.equal(operation.requestBody, undefined, `${name}: documents no body`);
    } else {
      t.same(Object.keys(operation.requestBody?.content ?? {}), ["application/json"], `${name}: the admin API takes JSON bodies`);
      t.same(
        substance(operation.requestBody?.content["application/json"]?.schema, `openapi ${name} body`),
        substance(schema.body, `route ${name} body`),
        `${name}: same body shape`,
      );
      const optional = substance(schema.body, "body") as { type: string[] };
      t.equal(operation.requestBody?.required ?? false, !optional.type.includes("null"), `${name}: body required unless it may be null`);
    }
    t.same(documentedParameters(operation, pathItem, "path"), fastifyParameters(schema.params), `${name}: same path parameters`);
    t.same(documentedParameters(operation, pathItem, "query"), fastifyParameters(schema.querystring), `${name}: same query parameters`);
    if (schema.querystring !== undefined) {
      t.equal((schema.querystring as Json).additionalProperties, false, `${name}: unknown query parameters are refused, as documented by omission`);
    }

    if (path.startsWith("/admin/v1/")) {
      t.same(operation.security, [{ adminToken: [] }], `${name}: needs the admin token`);
      t.ok("401" in documented && "503" in documented, `${name}: documents the auth hook's 401 and 503`);
    } else {
      t.same(operation.security, [], `${name}: is public`);
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
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method] as Operation | undefined;
      for (const [status, response] of Object.entries(operation?.responses ?? {})) {
        const properties = (response.content?.["application/json"]?.schema?.properties ?? {}) as Json;
        if (!carriesSecret(properties)) continue;
        carriers++;
        t.match(response.description, /shown once|only response/i, `${method.toUpperCase()} ${path} ${status}`);
      }
    }
  }
  t.ok(carriers >= 6, "the application, secret, webhook secret, installation, code and token responses were all found");
});
