// GET /version (issue 12): public, the package's name and version and, when the build
// recorded it, the commit (APPGRANT_COMMIT, validated).
import { readFileSync } from "node:fs";
import t from "tap";
import { ConfigError, loadConfig } from "../../src/main/config.js";
import { buildTestApp } from "../support/helper.js";

const { name, version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string };

t.test("GET /version needs no credentials and names the build", async (t) => {
  const unknown = await buildTestApp(t);
  const res = await unknown.app.inject({ method: "GET", url: "/version" });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { name, version, commit: null }, "no commit recorded");
  const built = await buildTestApp(t, { APPGRANT_COMMIT: "A8D1C32F" });
  t.same((await built.app.inject({ method: "GET", url: "/version" })).json(), { name, version, commit: "a8d1c32f" });
  t.throws(() => loadConfig({ APPGRANT_COMMIT: "main; rm -rf" }), ConfigError, "a commit is hex digits");
});
