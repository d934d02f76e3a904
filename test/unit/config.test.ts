import t from "tap";
import { ConfigError, loadConfig } from "../../src/main/config.js";

const CWD = "/srv/appgrant";
const TOKEN = "a".repeat(32);

t.test("uses the documented defaults when nothing is set", async (t) => {
  const config = loadConfig({}, CWD);
  t.match(config, {
    port: 3000,
    host: "127.0.0.1",
    database: { kind: "sqlite", path: "/srv/appgrant/data/appgrant.db" },
    issuer: "http://localhost:3000",
    adminToken: undefined,
    codeLifetime: 600,
    accessTokenLifetime: 28_800,
    refreshTokenLifetime: 15_552_000,
    logLevel: "info",
    trustProxy: false,
  });
  t.equal(config.adminToken, undefined, "no admin token unless one is set");
});

t.test("treats empty or blank variables as unset", async (t) => {
  const config = loadConfig({ PORT: "", HOST: "  ", DATABASE_URL: "", APPGRANT_ADMIN_TOKEN: "", LOG_LEVEL: " " }, CWD);
  t.match(config, {
    port: 3000,
    host: "127.0.0.1",
    database: { kind: "sqlite", path: "/srv/appgrant/data/appgrant.db" },
    adminToken: undefined,
    logLevel: "info",
  });
});

t.test("reads each variable", async (t) => {
  const cases: { env: Record<string, string>; expect: Record<string, unknown> }[] = [
    { env: { PORT: "8080" }, expect: { port: 8080, issuer: "http://localhost:8080" } },
    { env: { PORT: "0" }, expect: { port: 0 } },
    { env: { PORT: "65535" }, expect: { port: 65535 } },
    { env: { HOST: "0.0.0.0" }, expect: { host: "0.0.0.0" } },
    { env: { DATABASE_URL: "file:./db/x.db" }, expect: { database: { kind: "sqlite", path: "/srv/appgrant/db/x.db" } } },
    { env: { DATABASE_URL: "file:/var/lib/appgrant.db" }, expect: { database: { kind: "sqlite", path: "/var/lib/appgrant.db" } } },
    { env: { DATABASE_URL: "file:///var/lib/appgrant.db" }, expect: { database: { kind: "sqlite", path: "/var/lib/appgrant.db" } } },
    {
      env: { DATABASE_URL: "postgresql://u:p@db/appgrant", APPGRANT_SECRET_KEY: TOKEN },
      expect: {
        database: { kind: "postgres", url: "postgresql://u:p@db/appgrant", connectionString: "postgresql://u:p@db/appgrant", schema: "public" },
      },
    },
    { env: { APPGRANT_ISSUER: "https://auth.example.com" }, expect: { issuer: "https://auth.example.com" } },
    { env: { APPGRANT_ISSUER: "https://auth.example.com/tenant/" }, expect: { issuer: "https://auth.example.com/tenant" } },
    { env: { APPGRANT_ADMIN_TOKEN: TOKEN }, expect: { adminToken: TOKEN } },
    { env: { APPGRANT_CODE_LIFETIME: "60" }, expect: { codeLifetime: 60 } },
    { env: { APPGRANT_ACCESS_TOKEN_LIFETIME: "3600" }, expect: { accessTokenLifetime: 3600 } },
    { env: { APPGRANT_REFRESH_TOKEN_LIFETIME: "86400" }, expect: { refreshTokenLifetime: 86_400 } },
    { env: { LOG_LEVEL: "DEBUG" }, expect: { logLevel: "debug" } },
    { env: { LOG_LEVEL: "silent" }, expect: { logLevel: "silent" } },
    { env: { APPGRANT_TRUST_PROXY: "true" }, expect: { trustProxy: true } },
    { env: { APPGRANT_TRUST_PROXY: "10.0.0.0/8, 192.0.2.1,loopback" }, expect: { trustProxy: ["10.0.0.0/8", "192.0.2.1", "loopback"] } },
    { env: {}, expect: { redisTimeout: 500, rateLimit: { authFailures: 20, authFailuresPerIp: 100 } } },
    { env: { APPGRANT_REDIS_TIMEOUT: "250" }, expect: { redisTimeout: 250 } },
    { env: { APPGRANT_RATE_LIMIT_AUTH_FAILURES_PER_IP: "0" }, expect: { rateLimit: { authFailuresPerIp: 0 } } },
    { env: {}, expect: { webhookGiveUpHours: 72, webhookPauseAfterFailures: 20, webhookPauseAfterHours: 24 } },
    { env: { APPGRANT_WEBHOOK_PAUSE_AFTER_FAILURES: "5" }, expect: { webhookPauseAfterFailures: 5 } },
    { env: { APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS: "0" }, expect: { webhookPauseAfterHours: 0 } },
    { env: {}, expect: { metricsPort: undefined, metricsHost: "127.0.0.1", metricsPerClient: false } },
    { env: { APPGRANT_METRICS_PER_CLIENT: "true" }, expect: { metricsPerClient: true } },
    { env: {}, expect: { db: { backgroundCheckpoints: true } } },
    { env: { APPGRANT_SQLITE_BACKGROUND_CHECKPOINTS: "false" }, expect: { db: { backgroundCheckpoints: false } } },
    { env: { APPGRANT_METRICS_PORT: "9464", APPGRANT_METRICS_HOST: "0.0.0.0" }, expect: { metricsPort: 9464, metricsHost: "0.0.0.0" } },
    {
      env: {},
      expect: { secretScanningKeys: undefined, leakedSecretAction: "notify", credentialRevokeLimit: { perIp: 60, windowSeconds: 3600 } },
    },
    {
      env: { APPGRANT_SECRET_SCANNING_KEYS_URL: "https://api.github.com/meta/public_keys/secret_scanning" },
      expect: { secretScanningKeys: { url: "https://api.github.com/meta/public_keys/secret_scanning" } },
    },
    {
      env: { APPGRANT_SECRET_SCANNING_KEYS_URL: "http://127.0.0.1:8080/keys" },
      expect: { secretScanningKeys: { url: "http://127.0.0.1:8080/keys" } },
    },
    { env: { APPGRANT_LEAKED_SECRET_ACTION: "REVOKE" }, expect: { leakedSecretAction: "revoke" } },
    {
      env: { APPGRANT_CREDENTIAL_REVOKE_LIMIT: "0", APPGRANT_CREDENTIAL_REVOKE_LIMIT_WINDOW: "60" },
      expect: { credentialRevokeLimit: { perIp: 0, windowSeconds: 60 } },
    },
  ];
  for (const c of cases) t.match(loadConfig(c.env, CWD), c.expect, JSON.stringify(c.env));
});

t.test("refuses each bad value with a ConfigError naming the variable", async (t) => {
  const cases: [string, string, Record<string, string>?][] = [
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["DATABASE_URL", "mysql://x"],
    ["DATABASE_URL", "appgrant.db"],
    ["DATABASE_URL", "file:"],
    ["APPGRANT_ISSUER", "not-a-url"],
    ["APPGRANT_ISSUER", "https://auth.example.com/?tenant=1"],
    ["APPGRANT_ISSUER", "https://auth.example.com/#x"],
    ["APPGRANT_ISSUER", "ftp://auth.example.com"],
    ["APPGRANT_ISSUER", "https://auth.example.com/?"],
    ["APPGRANT_ISSUER", "https://auth.example.com#"],
    ["APPGRANT_ISSUER", "https://admin:pw@auth.example.com"],
    ["APPGRANT_ADMIN_TOKEN", "short"],
    ["APPGRANT_ADMIN_TOKEN", "a".repeat(31)],
    ["LOG_LEVEL", "loud"],
    ["APPGRANT_CODE_LIFETIME", "0"],
    ["APPGRANT_CODE_LIFETIME", "3601"],
    ["APPGRANT_CODE_LIFETIME", "ten"],
    ["APPGRANT_ACCESS_TOKEN_LIFETIME", "59"],
    ["APPGRANT_ACCESS_TOKEN_LIFETIME", String(30 * 86_400 + 1)],
    ["APPGRANT_REFRESH_TOKEN_LIFETIME", "59"],
    ["APPGRANT_REFRESH_TOKEN_LIFETIME", String(3650 * 86_400 + 1)],
    ["APPGRANT_TRUST_PROXY", "yes"],
    ["APPGRANT_TRUST_PROXY", "10.0.0.0/33"],
    ["APPGRANT_TRUST_PROXY", "10.0.0.1,"],
    ["APPGRANT_REDIS_TIMEOUT", "5"],
    ["APPGRANT_REDIS_TIMEOUT", "1s"],
    ["APPGRANT_RATE_LIMIT_AUTH_FAILURES_PER_IP", "-1"],
    ["APPGRANT_WEBHOOK_PAUSE_AFTER_FAILURES", "0"],
    ["APPGRANT_METRICS_PORT", "70000"],
    ["APPGRANT_METRICS_PORT", "nine"],
    ["APPGRANT_METRICS_PER_CLIENT", "yes"],
    ["APPGRANT_SQLITE_BACKGROUND_CHECKPOINTS", "1"],
    ["APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS", "-1"],
    ["APPGRANT_WEBHOOK_PAUSE_AFTER_HOURS", "1.5"],
    // Several processes share a PostgreSQL database and must share the key.
    ["APPGRANT_SECRET_KEY", "", { DATABASE_URL: "postgresql://u:p@db/appgrant" }],
    ["APPGRANT_SECRET_KEY", "short"],
    ["APPGRANT_SECRET_SCANNING_KEYS_URL", "http://keys.example/keys"],
    ["APPGRANT_SECRET_SCANNING_KEYS_URL", "keys.json"],
    ["APPGRANT_SECRET_SCANNING_KEYS_FILE", "/nonexistent/keys.json"],
    ["APPGRANT_SECRET_SCANNING_KEYS_FILE", "/etc/hostname", { APPGRANT_SECRET_SCANNING_KEYS_URL: "https://keys.example/" }],
    ["APPGRANT_LEAKED_SECRET_ACTION", "delete"],
    ["APPGRANT_CREDENTIAL_REVOKE_LIMIT", "-1"],
    ["APPGRANT_CREDENTIAL_REVOKE_LIMIT_WINDOW", "0"],
  ];
  for (const [variable, value, extra] of cases) {
    const label = `${variable}=${value}${extra ? ` with ${JSON.stringify(extra)}` : ""}`;
    let thrown: unknown;
    try {
      loadConfig({ ...extra, [variable]: value }, CWD);
    } catch (error) {
      thrown = error;
    }
    t.type(thrown, ConfigError, `${label} throws a ConfigError`);
    if (!(thrown instanceof ConfigError)) continue;
    t.equal(thrown.variable, variable, `${label}: .variable names it`);
    t.match(thrown.message, new RegExp(`^${variable}: `), `${label}: the message starts with the variable`);
  }
});

t.test("accepts each range's boundary values", async (t) => {
  const cases: [string, string, string][] = [
    ["APPGRANT_CODE_LIFETIME", "1", "codeLifetime"],
    ["APPGRANT_CODE_LIFETIME", "3600", "codeLifetime"],
    ["APPGRANT_ACCESS_TOKEN_LIFETIME", "60", "accessTokenLifetime"],
    ["APPGRANT_ACCESS_TOKEN_LIFETIME", String(30 * 86_400), "accessTokenLifetime"],
    ["APPGRANT_REFRESH_TOKEN_LIFETIME", "60", "refreshTokenLifetime"],
    ["APPGRANT_REFRESH_TOKEN_LIFETIME", String(3650 * 86_400), "refreshTokenLifetime"],
    ["APPGRANT_ADMIN_TOKEN", "a".repeat(32), "adminToken"],
  ];
  for (const [variable, value, key] of cases) {
    const config = loadConfig({ [variable]: value }, CWD) as unknown as Record<string, unknown>;
    t.equal(String(config[key]), value, `${variable}=${value}`);
  }
});
