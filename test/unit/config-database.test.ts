// The database's deadlines and pool size: read in src/main/config.ts only, validated there.
import t from "tap";
import { ConfigError, loadConfig } from "../../src/main/config.js";

t.test("database deadlines and pool size: documented defaults, each variable read", async (t) => {
  t.same(loadConfig({}).db, { poolSize: 10, connectTimeoutMs: 2000, queryTimeoutMs: 3000, readyTimeoutMs: 1000, backgroundCheckpoints: true });
  t.same(
    loadConfig({ APPGRANT_PG_POOL_SIZE: "25", APPGRANT_DB_CONNECT_TIMEOUT: "750", APPGRANT_DB_QUERY_TIMEOUT: "10000", APPGRANT_READY_TIMEOUT: "300" })
      .db,
    { poolSize: 25, connectTimeoutMs: 750, queryTimeoutMs: 10_000, readyTimeoutMs: 300, backgroundCheckpoints: true },
  );
  t.same(loadConfig({ APPGRANT_PG_POOL_SIZE: " ", APPGRANT_DB_QUERY_TIMEOUT: "" }).db.queryTimeoutMs, 3000, "blank counts as unset");
});

t.test("refuses a bad value with a ConfigError naming the variable", async (t) => {
  const cases: [string, string][] = [
    ["APPGRANT_PG_POOL_SIZE", "0"],
    ["APPGRANT_PG_POOL_SIZE", "ten"],
    ["APPGRANT_PG_POOL_SIZE", "1001"],
    ["APPGRANT_DB_CONNECT_TIMEOUT", "49"],
    ["APPGRANT_DB_CONNECT_TIMEOUT", "2s"],
    ["APPGRANT_DB_QUERY_TIMEOUT", "0"],
    ["APPGRANT_DB_QUERY_TIMEOUT", "600001"],
    ["APPGRANT_READY_TIMEOUT", "-5"],
    ["APPGRANT_READY_TIMEOUT", "60001"],
  ];
  for (const [variable, value] of cases) {
    let thrown: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      thrown = error;
    }
    t.type(thrown, ConfigError, `${variable}=${value}`);
    t.equal((thrown as ConfigError).variable, variable);
    t.match((thrown as ConfigError).message, new RegExp(`^${variable}: `));
  }
});
