// The pieces of tracing that need no server: the configuration (OTEL_* variables), the
// attribute names against the OpenTelemetry semantic conventions, and how a statement
// is described (its summary, and its text with no literal).
import * as conventions from "@opentelemetry/semantic-conventions";
import t from "tap";
import { loadConfig } from "../../src/main/config.js";
import { ConfigError } from "../../src/shared/config-error.js";
import { ATTR } from "../../src/shared/tracing.js";
import { describeStatement, sanitizeStatement } from "../../src/storage/traced-statements.js";

const base = { DATABASE_URL: "file:/tmp/appgrant-unit.db" };

t.test("tracing is configured by the OpenTelemetry variables, off unless an endpoint is set", async (t) => {
  t.equal(loadConfig(base).tracing, undefined, "off by default");
  t.strictSame(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).tracing, {
    url: "http://collector:4318/v1/traces",
    serviceName: "appgrant",
  });
  t.equal(
    loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example/otlp/" }).tracing?.url,
    "https://collector.example/otlp/v1/traces",
  );
  t.strictSame(
    loadConfig({
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4318/custom",
      OTEL_SERVICE_NAME: "auth-eu",
    }).tracing,
    { url: "http://tempo:4318/custom", serviceName: "auth-eu" },
    "the traces endpoint is taken as is",
  );
  t.equal(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" }).tracing, undefined);
  t.ok(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }).tracing);
  t.throws(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }), ConfigError);
  t.throws(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }), ConfigError);
  t.throws(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://collector" }), /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/);
});

t.test("the attribute names are the semantic conventions'", async (t) => {
  const expected: Record<keyof typeof ATTR, string> = {
    httpRequestMethod: conventions.ATTR_HTTP_REQUEST_METHOD,
    httpRoute: conventions.ATTR_HTTP_ROUTE,
    httpResponseStatusCode: conventions.ATTR_HTTP_RESPONSE_STATUS_CODE,
    httpRequestResendCount: "http.request.resend_count",
    urlPath: conventions.ATTR_URL_PATH,
    urlScheme: conventions.ATTR_URL_SCHEME,
    urlFull: conventions.ATTR_URL_FULL,
    serverAddress: conventions.ATTR_SERVER_ADDRESS,
    serverPort: conventions.ATTR_SERVER_PORT,
    clientAddress: conventions.ATTR_CLIENT_ADDRESS,
    userAgentOriginal: conventions.ATTR_USER_AGENT_ORIGINAL,
    errorType: conventions.ATTR_ERROR_TYPE,
    dbSystemName: conventions.ATTR_DB_SYSTEM_NAME,
    dbNamespace: conventions.ATTR_DB_NAMESPACE,
    dbOperationName: conventions.ATTR_DB_OPERATION_NAME,
    dbCollectionName: conventions.ATTR_DB_COLLECTION_NAME,
    dbQuerySummary: conventions.ATTR_DB_QUERY_SUMMARY,
    dbQueryText: conventions.ATTR_DB_QUERY_TEXT,
  };
  t.strictSame({ ...ATTR }, expected);
  t.equal(conventions.DB_SYSTEM_NAME_VALUE_POSTGRESQL, "postgresql");
});

t.test("a statement is described by its outermost operation and table, its text with no literal", async (t) => {
  t.equal(sanitizeStatement(`SELECT 1`), "SELECT ?");
  t.equal(
    sanitizeStatement(`UPDATE "Token" SET "revokedReason" = 'it''s reused', "n" = 42.5
      WHERE "id" = $3 AND "createdAt" > $1::timestamp(3) AND "t2"."x" = ?`),
    `UPDATE "Token" SET "revokedReason" = ?, "n" = ? WHERE "id" = $3 AND "createdAt" > $1::timestamp(3) AND "t2"."x" = ?`,
    "strings and numbers go; placeholders, identifiers and type modifiers stay",
  );
  const cte = describeStatement(
    `WITH installation AS (SELECT 1 FROM "Installation" WHERE "status" = 'active' FOR SHARE),
      consumed AS (UPDATE "Grant" SET "consumedAt" = $2 WHERE "id" = $3 RETURNING 1)
     INSERT INTO "Token" ("id") SELECT $1 FROM consumed RETURNING "id"`,
    { "db.system.name": "postgresql" },
  );
  t.equal(cte.name, "INSERT Token");
  t.match(cte.attributes, {
    "db.system.name": "postgresql",
    "db.operation.name": "INSERT",
    "db.collection.name": "Token",
    "db.query.summary": "INSERT Token",
  });
  t.notMatch(String(cte.attributes["db.query.text"]), /active|'/);
  t.equal(
    describeStatement(`SELECT t."id" FROM "Token" t JOIN "Installation" i ON i."id" = t."installationId" WHERE t."refreshTokenHash" = ?`, {}).name,
    "SELECT Token",
  );
  t.equal(describeStatement(`UPDATE "Grant" SET "consumedAt" = ? WHERE EXISTS (SELECT 1 FROM "Installation" i)`, {}).name, "UPDATE Grant");
  t.equal(describeStatement(`INSERT INTO "WebhookDelivery" ("id") SELECT @id FROM "Application" a`, {}).name, "INSERT WebhookDelivery");
  t.equal(describeStatement("BEGIN", {}).name, "BEGIN");
  t.equal(describeStatement("SELECT 1", {}).name, "SELECT");
});
