// JSON schemas of the admin API: they validate requests, type the handlers
// (@fastify/type-provider-json-schema-to-ts) and serialise responses (a response can
// never carry a field that is not listed here). Their descriptions and examples are
// openapi.yaml's: @fastify/swagger generates the document from them (`npm run openapi`).
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import { KEY_ALGORITHMS, MAX_KEYS_PER_APPLICATION } from "../../domain/application-keys.js";
import { EVENT_TYPES } from "../../domain/events.js";
import { INSTALLATION_STATUSES } from "../../domain/installations.js";
import { MAX_SUSPENSION_REASON } from "../../domain/installation-suspension.js";

export const errorSchema = {
  type: "object",
  description: "The admin API's one error shape.",
  properties: {
    statusCode: { type: "integer", description: "The HTTP status, repeated." },
    code: {
      type: "string",
      description: "Machine-readable: invalid_request, unauthorized, not_found, conflict, admin_disabled, server_error.",
    },
    error: { type: "string", description: "The HTTP reason phrase." },
    message: { type: "string", description: "What went wrong, for a human." },
    request_id: {
      type: "string",
      description: "The request's id, also in the X-Request-Id response header and in every log line of the request (`reqId`).",
    },
  },
  required: ["statusCode", "code", "error", "message", "request_id"],
  examples: [{ statusCode: 400, code: "invalid_request", error: "Bad Request", message: "body/redirect_uris is required" }],
} as const;

/** Every admin route needs the admin token (see the adminToken security scheme, src/http/openapi.ts). */
export const adminSecurity = [{ adminToken: [] }];

/** Response headers of an answer that carries a secret. */
export const noStoreHeaders = {
  "Cache-Control": { type: "string", const: "no-store", description: "Always `no-store` (RFC 6749 §5.1)." },
  Pragma: { type: "string", const: "no-cache", description: "Always `no-cache`." },
} as const;

const timestamp = { type: "string", format: "date-time" } as const;
const nullableTimestamp = { type: ["string", "null"], format: "date-time" } as const;
const stringArray = { type: "array", items: { type: "string" } } as const;
const identifier = { type: "string", minLength: 1, maxLength: 100 } as const;

export const idParams = {
  type: "object",
  properties: { id: identifier },
  required: ["id"],
} as const;

export const secretParams = {
  type: "object",
  properties: {
    id: identifier,
    secretId: { ...identifier, description: "The `id` of a secret, as listed by `GET /admin/v1/applications/{id}/secrets`." },
  },
  required: ["id", "secretId"],
} as const;

export const pageQuery = {
  limit: { type: "integer", minimum: 1, maximum: 200, default: 50, description: "Page size." },
  cursor: { type: "string", minLength: 1, maxLength: 100, description: "The `next_cursor` of the previous page." },
} as const;

const scopesInput = {
  type: "array",
  items: { type: "string", minLength: 1, maxLength: 200 },
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
} as const;

export const applicationInput = {
  name: { type: "string", minLength: 1, maxLength: 200 },
  redirect_uris: {
    type: "array",
    description: "Absolute URIs without fragment, matched exactly; plain http only for loopback hosts.",
    items: { type: "string", minLength: 1, maxLength: 2000 },
    minItems: 1,
    maxItems: 20,
    uniqueItems: true,
  },
  scopes: {
    ...scopesInput,
    description: "The scopes installations of this application may be granted (RFC 6749 §3.3 scope tokens).",
  },
  webhook_url: {
    type: ["string", "null"],
    description:
      "https URL to a public address. Internal, link-local, reserved and cloud metadata addresses, other " +
      "schemes and credentials are refused (400) unless the server opts in to internal receivers " +
      "(APPGRANT_WEBHOOK_ALLOW_PRIVATE, APPGRANT_WEBHOOK_ALLOWED_CIDRS), which also permits plain http to them.",
    maxLength: 2000,
  },
  grant_types: {
    type: "array",
    items: { type: "string", maxLength: 100 },
    minItems: 1,
    maxItems: 20,
    description:
      "Grant types the client may use at /oauth/token, among those discovery lists (`grant_types_supported`; the " +
      "device code grant is accepted, and served, even while the device flow is not configured and discovery leaves " +
      "it out). Default " +
      "`authorization_code` and `refresh_token`; `client_credentials` (installation access tokens) is for confidential clients.",
  },
} as const;

export const createApplicationBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...applicationInput,
    client_type: { type: "string", enum: ["confidential", "public"], description: "Default `confidential`. A public client has no secret." },
  },
  required: ["name", "redirect_uris", "scopes"],
  examples: [{ name: "Acme CI", redirect_uris: ["https://ci.acme.example/callback"], scopes: ["read", "write"] }],
} as const;

export const updateApplicationBody = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  // webhooks_paused: false resumes paused webhooks (src/domain/webhook-pause.ts).
  properties: { ...applicationInput, webhooks_paused: { type: "boolean", enum: [false] } },
} as const;

const applicationProperties = {
  id: { type: "string" },
  client_id: { type: "string", description: "Public identifier of the OAuth client." },
  name: { type: "string" },
  redirect_uris: stringArray,
  scopes: stringArray,
  grant_types: { ...stringArray, description: "Grant types the client may use at /oauth/token." },
  webhook_url: { type: ["string", "null"] },
  webhooks_paused_at: {
    ...nullableTimestamp,
    description:
      "Since when the application's webhooks are paused, because its endpoint kept failing or because a leaked webhook " +
      "secret was replaced by one nobody is shown (APPGRANT_LEAKED_SECRET_ACTION=revoke: rotate it first); null when " +
      'they are not. Resume with PATCH {"webhooks_paused": false}.',
  },
  webhook_secret_compromised_at: {
    ...nullableTimestamp,
    description: "When the current webhook secret was reported leaked (and kept, APPGRANT_LEAKED_SECRET_ACTION=notify); null otherwise. Rotate it.",
  },
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
  description: "The application, plus its first client secret and its webhook secret (both shown once).",
  properties: {
    ...applicationProperties,
    client_secret: { type: ["string", "null"], description: "`ags_…`. Shown once; null for a public client, which has no secret." },
    webhook_secret: {
      type: "string",
      description: "`whsec_…` (Standard Webhooks), the key that signs this application's webhooks. Shown once.",
    },
  },
  required: [...Object.keys(applicationProperties), "client_secret", "webhook_secret"],
} as const;

export const createdWebhookSecret = {
  type: "object",
  properties: { webhook_secret: { type: "string", description: "`whsec_…` (Standard Webhooks). Shown once." } },
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
  active: { type: "boolean", description: "Unexpired, so it authenticates." },
  compromised_at: {
    ...nullableTimestamp,
    description: "When the secret was reported leaked (and kept, APPGRANT_LEAKED_SECRET_ACTION=notify); null otherwise. Replace it.",
  },
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
  properties: { expires_at: { type: "string", format: "date-time", description: "Optional expiry; must be in the future." } },
} as const;

export const createdSecret = {
  type: "object",
  properties: { ...secretProperties, client_secret: { type: "string", description: "`ags_…`. Shown once." } },
  required: [...Object.keys(secretProperties), "client_secret"],
} as const;

// ---- Application keys: /admin/v1/applications/{id}/keys.

export const keyParams = {
  type: "object",
  properties: {
    id: identifier,
    key_id: { ...identifier, description: "The `id` of a key, as listed by `GET /admin/v1/applications/{id}/keys`." },
  },
  required: ["id", "key_id"],
} as const;

const base64url = { type: "string", description: "base64url, without padding." } as const;

export const publicJwk = {
  type: "object",
  description:
    "The public key as a JWK (RFC 7517): its public members only (`kty` and `n`, `e` for RSA; `crv`, `x`, `y` for EC; " +
    "`crv`, `x` for OKP), its `kid`, its one `alg` and `use` `sig`.",
  properties: {
    kty: { type: "string", enum: ["RSA", "EC", "OKP"] },
    crv: { type: "string", enum: ["P-256", "Ed25519"] },
    x: base64url,
    y: base64url,
    n: base64url,
    e: base64url,
    kid: { type: "string", description: "The RFC 7638 thumbprint (SHA-256, base64url) of the public members." },
    alg: { type: "string", enum: KEY_ALGORITHMS },
    use: { type: "string", const: "sig" },
  },
  required: ["kty", "kid", "alg", "use"],
  additionalProperties: false,
} as const;

const keyProperties = {
  id: { type: "string" },
  kid: {
    type: "string",
    description: "The RFC 7638 thumbprint (SHA-256, base64url) of the public key: the `kid` header of the JWTs it verifies.",
  },
  alg: { type: "string", enum: KEY_ALGORITHMS, description: "The one algorithm this key verifies." },
  public_jwk: publicJwk,
  created_at: timestamp,
} as const;

export const applicationKey = { type: "object", properties: keyProperties, required: Object.keys(keyProperties) } as const;

export const applicationKeyList = {
  type: "object",
  properties: { items: { type: "array", items: applicationKey } },
  required: ["items"],
} as const;

export const createKeyBody = {
  type: ["object", "null"],
  additionalProperties: false,
  description:
    "No body (or `{}`): appgrant generates an ES256 key pair and returns its private key once. " +
    "`jwk`: register the application's own public key instead.",
  properties: {
    jwk: {
      type: "object",
      description:
        "A public JWK (RFC 7517): RSA with a modulus of 2048 to 8192 bits (`alg` RS256, the default, or PS256), EC on P-256 " +
        "(ES256) or OKP Ed25519 (EdDSA). Refused: private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), symmetric " +
        "keys, other curves, an `alg` that does not fit the key, a `use` other than `sig`. Any `kid` given is ignored: the kid is " +
        "always the key's RFC 7638 thumbprint. Only the public members are stored.",
      additionalProperties: true,
      maxProperties: 50,
    },
  },
  examples: [{}, { jwk: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" } }],
} as const;

export const createdKey = {
  type: "object",
  properties: {
    ...keyProperties,
    private_key: {
      type: "string",
      description: "A generated key's private key, PKCS#8 PEM. Shown once; never stored. Absent when a JWK was registered.",
    },
  },
  required: Object.keys(keyProperties),
} as const;

export const createInstallationBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    client_id: identifier,
    account: {
      type: "string",
      minLength: 1,
      maxLength: 200,
      description: "Opaque identifier of the platform's account (organisation, workspace…).",
    },
    scopes: { ...scopesInput, description: "Default all the application's scopes; may not exceed them." },
  },
  required: ["client_id", "account"],
} as const;

const installationProperties = {
  id: { type: "string" },
  client_id: { type: "string" },
  account: { type: "string" },
  scopes: stringArray,
  status: {
    type: "string",
    enum: INSTALLATION_STATUSES,
    description: "`suspended`: nothing is issued to it, its tokens are inactive and its webhooks held until it is unsuspended.",
  },
  created_at: timestamp,
  uninstalled_at: nullableTimestamp,
  suspended_at: nullableTimestamp,
  suspension_reason: { type: ["string", "null"], description: "The reason given when it was suspended." },
  pending_scopes: {
    ...stringArray,
    description:
      "Scopes the application added since, awaiting `POST /admin/v1/installations/{id}/permissions/accept` or `…/reject`; empty when none.",
  },
} as const;

export const installation = {
  type: "object",
  properties: {
    ...installationProperties,
    code_expires_at: {
      ...timestamp,
      description: "Present while the installation's code can still be exchanged. The code itself is never shown here.",
    },
  },
  required: Object.keys(installationProperties),
} as const;

export const issuedCode = {
  type: "object",
  description: "An installation with a freshly issued authorization code (shown once).",
  properties: {
    ...installationProperties,
    code: { type: "string", description: "`agc_…`. Shown once; single use." },
    code_expires_at: timestamp,
    redirect_to: {
      type: "string",
      description: "The application's only redirect URI with `code`, `installation_id`, `account` and `iss` added.",
    },
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
    client_id: { ...identifier, description: "Only installations of this application." },
    account: { type: "string", minLength: 1, maxLength: 200, description: "Only installations in this account." },
    status: { type: "string", enum: INSTALLATION_STATUSES, description: "Only installations with this status." },
  },
} as const;

export const suspendBody = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: {
    reason: { type: "string", maxLength: MAX_SUSPENSION_REASON, description: "Why, for the audit log and the `installation.suspended` webhook." },
  },
  examples: [{}, { reason: "billing overdue" }],
} as const;

export const deleteSecretQuery = {
  type: "object",
  additionalProperties: false,
  properties: { force: { type: "boolean", default: false, description: "Delete even the application's last working client secret." } },
} as const;

export const listQuery = { type: "object", additionalProperties: false, properties: pageQuery } as const;

// ---- Events (the audit log): GET /admin/v1/events and /admin/v1/events/{id}.

const eventProperties = {
  id: { type: "string", description: "UUIDv7: events sort by id as by time." },
  type: { type: "string", enum: EVENT_TYPES },
  occurred_at: timestamp,
  actor: {
    type: "object",
    description:
      "Who caused the event: an admin credential (`admin:` and a hash prefix of the token), a client (its client_id), the CLI or appgrant itself.",
    properties: { type: { type: "string", enum: ["admin", "cli", "client", "system"] }, id: { type: ["string", "null"] } },
    required: ["type", "id"],
  },
  application_id: { type: ["string", "null"] },
  installation_id: { type: ["string", "null"] },
  request_id: { type: ["string", "null"], description: "The id of the HTTP request that caused the event (null for the CLI)." },
  source_ip: { type: ["string", "null"] },
  data: { type: "object", additionalProperties: true, description: "What changed; never a secret, code or token." },
} as const;

export const event = { type: "object", properties: eventProperties, required: Object.keys(eventProperties) } as const;

export const eventList = {
  type: "object",
  properties: { items: { type: "array", items: event }, next_cursor: { type: ["string", "null"] } },
  required: ["items", "next_cursor"],
} as const;

export const eventQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    ...pageQuery,
    type: {
      type: "array",
      items: { type: "string", enum: EVENT_TYPES },
      maxItems: EVENT_TYPES.length,
      description: "Only events of these types (repeat the parameter for several).",
    },
    application_id: { type: "string", minLength: 1, maxLength: 100, description: "Only events of this application (its id)." },
    installation_id: { type: "string", minLength: 1, maxLength: 100, description: "Only events of this installation." },
    since: { type: "string", format: "date-time", description: "Only events at or after this time." },
    until: { type: "string", format: "date-time", description: "Only events before this time." },
  },
} as const;

/**
 * The error responses an admin route may give, each with what it means there. A route
 * lists the ones it can answer (`...adminErrors(400, 401, 404, 503)`): they serialise
 * those answers and document them. `x-response-description` is the response's text in
 * openapi.yaml (@fastify/swagger), kept apart from the error schema's own description.
 */
const ADMIN_ERRORS = {
  400: {
    ...errorSchema,
    "x-response-description":
      "The request failed validation; `message` names the field, e.g. `body/redirect_uris must be array`, " +
      '`body has unknown property "redirect_uri"` or `body/name is not text (it holds a NUL or an unpaired surrogate)`.',
  },
  401: {
    ...errorSchema,
    "x-response-description": "The admin token is missing or wrong (`code` is `unauthorized`).",
    headers: { "WWW-Authenticate": { type: "string", description: '`Bearer realm="appgrant-admin"`' } },
  },
  404: { ...errorSchema, "x-response-description": "No such application, secret, key or installation (`code` is `not_found`)." },
  409: {
    ...errorSchema,
    "x-response-description":
      "The operation conflicts with the current state (`code` is `conflict`): a second active installation of " +
      "one application in one account, a third active secret, a secret for a public client, a code for an " +
      "uninstalled or suspended installation, suspending an uninstalled one, answering a permission request that is not pending, an authorization request answered twice or after it expired, deleting the last " +
      "working client secret without `force=true`, a key the application already has or more than " +
      `${MAX_KEYS_PER_APPLICATION} keys.`,
  },
  415: { ...errorSchema, "x-response-description": "The body is not `application/json` (`code` is `invalid_request`)." },
  503: {
    ...errorSchema,
    "x-response-description":
      "The admin API is disabled because APPGRANT_ADMIN_TOKEN is not set (`code` is `admin_disabled`); `message` " +
      "says how to set it. Or the database is unavailable (`code` is `database_unavailable`, with `Retry-After`).",
  },
} as const;

export function adminErrors<S extends keyof typeof ADMIN_ERRORS>(...statuses: S[]): Pick<typeof ADMIN_ERRORS, S> {
  return Object.fromEntries(statuses.map((status) => [status, ADMIN_ERRORS[status]])) as Pick<typeof ADMIN_ERRORS, S>;
}

/**
 * Types the admin routes from these schemas: request parts as validated, answers as
 * serialised (a date-time field may be given as a Date, which the serialiser formats).
 */
export type AdminTypeProvider = JsonSchemaToTsProvider<{
  SerializerSchemaOptions: {
    deserialize: [
      { pattern: { type: "string"; format: "date-time" }; output: Date | string },
      { pattern: { type: readonly ["string", "null"]; format: "date-time" }; output: Date | string | null },
    ];
  };
}>;
