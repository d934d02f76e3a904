// JSON schemas of the admin API: they validate requests and serialise responses
// (a response can never carry a field that is not listed here). openapi.yaml
// describes the same shapes; test/http/openapi.test.ts keeps the two in step.

export const errorSchema = {
  type: "object",
  properties: {
    statusCode: { type: "integer" },
    code: { type: "string" },
    error: { type: "string" },
    message: { type: "string" },
  },
  required: ["statusCode", "code", "error", "message"],
} as const;

const timestamp = { type: "string", format: "date-time" } as const;
const nullableTimestamp = { type: ["string", "null"], format: "date-time" } as const;
const stringArray = { type: "array", items: { type: "string" } } as const;

export const idParams = {
  type: "object",
  properties: { id: { type: "string", minLength: 1, maxLength: 100 } },
  required: ["id"],
} as const;

export const pageQuery = {
  limit: { type: "integer", minimum: 1, maximum: 200, default: 50 },
  cursor: { type: "string", minLength: 1, maxLength: 100 },
} as const;

export const applicationInput = {
  name: { type: "string", minLength: 1, maxLength: 200 },
  redirect_uris: { type: "array", items: { type: "string", minLength: 1, maxLength: 2000 }, minItems: 1, maxItems: 20, uniqueItems: true },
  scopes: { type: "array", items: { type: "string", minLength: 1, maxLength: 200 }, minItems: 1, maxItems: 100, uniqueItems: true },
  webhook_url: { type: ["string", "null"], maxLength: 2000 },
} as const;

export const createApplicationBody = {
  type: "object",
  additionalProperties: false,
  properties: { ...applicationInput, client_type: { type: "string", enum: ["confidential", "public"] } },
  required: ["name", "redirect_uris", "scopes"],
} as const;

export const updateApplicationBody = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  // webhooks_paused: false resumes webhooks paused after the endpoint kept failing (src/domain/webhook-pause.ts).
  properties: { ...applicationInput, webhooks_paused: { type: "boolean", enum: [false] } },
} as const;

const applicationProperties = {
  id: { type: "string" },
  client_id: { type: "string" },
  name: { type: "string" },
  redirect_uris: stringArray,
  scopes: stringArray,
  grant_types: stringArray,
  webhook_url: { type: ["string", "null"] },
  client_type: { type: "string" },
  created_at: timestamp,
  updated_at: timestamp,
} as const;

export const application = {
  type: "object",
  properties: applicationProperties,
  required: Object.keys(applicationProperties),
} as const;

export const createdApplication = {
  type: "object",
  properties: {
    ...applicationProperties,
    /** null for a public client, which has no secret. */
    client_secret: { type: ["string", "null"] },
    webhook_secret: { type: "string" },
  },
  required: [...Object.keys(applicationProperties), "client_secret", "webhook_secret"],
} as const;

export const createdWebhookSecret = {
  type: "object",
  properties: { webhook_secret: { type: "string" } },
  required: ["webhook_secret"],
} as const;

export const applicationList = {
  type: "object",
  properties: { items: { type: "array", items: application }, next_cursor: { type: ["string", "null"] } },
  required: ["items", "next_cursor"],
} as const;

const secretProperties = {
  id: { type: "string" },
  created_at: timestamp,
  expires_at: nullableTimestamp,
  active: { type: "boolean" },
} as const;

export const secret = { type: "object", properties: secretProperties, required: Object.keys(secretProperties) } as const;

export const secretList = {
  type: "object",
  properties: { items: { type: "array", items: secret } },
  required: ["items"],
} as const;

export const createSecretBody = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: { expires_at: { type: "string", format: "date-time" } },
} as const;

export const createdSecret = {
  type: "object",
  properties: { ...secretProperties, client_secret: { type: "string" } },
  required: [...Object.keys(secretProperties), "client_secret"],
} as const;

export const createInstallationBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    client_id: { type: "string", minLength: 1, maxLength: 100 },
    account: { type: "string", minLength: 1, maxLength: 200 },
    scopes: applicationInput.scopes,
  },
  required: ["client_id", "account"],
} as const;

const installationProperties = {
  id: { type: "string" },
  client_id: { type: "string" },
  account: { type: "string" },
  scopes: stringArray,
  status: { type: "string", enum: ["active", "uninstalled"] },
  created_at: timestamp,
  uninstalled_at: nullableTimestamp,
} as const;

export const installation = {
  type: "object",
  properties: {
    ...installationProperties,
    /** Present while the installation's code can still be exchanged. The code itself is shown only when issued. */
    code_expires_at: timestamp,
  },
  required: Object.keys(installationProperties),
} as const;

export const issuedCode = {
  type: "object",
  properties: {
    ...installationProperties,
    code: { type: "string" },
    code_expires_at: timestamp,
    redirect_to: { type: "string" },
  },
  required: [...Object.keys(installationProperties), "code", "code_expires_at"],
} as const;

export const installationList = {
  type: "object",
  properties: { items: { type: "array", items: installation }, next_cursor: { type: ["string", "null"] } },
  required: ["items", "next_cursor"],
} as const;

export const installationQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pageQuery,
    client_id: { type: "string", minLength: 1, maxLength: 100 },
    account: { type: "string", minLength: 1, maxLength: 200 },
    status: { type: "string", enum: ["active", "uninstalled"] },
  },
} as const;

/** force=true: delete even the application's last working client secret. */
export const deleteSecretQuery = {
  type: "object",
  additionalProperties: false,
  properties: { force: { type: "boolean", default: false } },
} as const;

export const listQuery = { type: "object", additionalProperties: false, properties: pageQuery } as const;

/** Standard error responses of an admin route, merged into each route's response map. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  404: errorSchema,
  409: errorSchema,
  415: errorSchema,
  503: errorSchema,
} as const;
