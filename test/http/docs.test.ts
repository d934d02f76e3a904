// GET /openapi.json and the API reference at GET /docs: public, on by default,
// APPGRANT_DOCS=false turns them off. The page is checked in a real browser, since
// what it shows is drawn by its scripts from /openapi.json.
import { existsSync, readFileSync } from "node:fs";
import t from "tap";
import { parse } from "yaml";
import { TARGET } from "../../scripts/openapi.js";
import { ConfigError, loadConfig } from "../../src/main/config.js";
import { ADMIN_TOKEN, buildTestApp } from "../support/helper.js";

const CHROMIUM = "/usr/bin/chromium";

t.test("GET /openapi.json is the committed openapi.yaml, and carries no secret", async (t) => {
  const { app, config } = await buildTestApp(t);
  const res = await app.inject({ method: "GET", url: "/openapi.json" });
  t.equal(res.statusCode, 200);
  t.match(res.headers["content-type"], /^application\/json/);
  t.same(res.json(), parse(readFileSync(TARGET, "utf8")));
  t.notOk(res.body.includes(ADMIN_TOKEN), "not the admin token");
  for (const key of config.secretKeys ?? []) t.notOk(res.body.includes(key), "not a server key");
});

t.test("APPGRANT_DOCS=false: neither the document nor the page is served", async (t) => {
  const { app } = await buildTestApp(t, { APPGRANT_DOCS: "false" });
  for (const url of ["/openapi.json", "/docs", "/docs/json", "/docs/static/index.html"]) {
    const res = await app.inject({ method: "GET", url });
    t.equal(res.statusCode, 404, url);
  }
  t.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200, "the rest is served");
});

t.test("APPGRANT_DOCS is true by default, and must be true or false", async (t) => {
  t.equal(loadConfig({}).docs, true);
  t.equal(loadConfig({ APPGRANT_DOCS: "FALSE" }).docs, false);
  t.throws(() => loadConfig({ APPGRANT_DOCS: "off" }), ConfigError);
});

// Without Chromium the test is skipped, with its reason, except in CI (.ci/run installs
// it and sets APPGRANT_REQUIRE_CHROMIUM=1), where its absence is a failure.
const required = process.env.APPGRANT_REQUIRE_CHROMIUM === "1";
const skip = !existsSync(CHROMIUM) && !required && `${CHROMIUM} is not installed (apt-get install -y chromium), so the page cannot be rendered`;

t.test("GET /docs renders the operations in a headless browser", { skip }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing, and CI requires it (APPGRANT_REQUIRE_CHROMIUM=1; .ci/run installs it)`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const { app } = await buildTestApp(t);
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const failed: string[] = [];
  page.on("requestfailed", (request) => failed.push(request.url()));
  const response = await page.goto(`${address}/docs`);
  t.equal(response?.status(), 200);
  // Operation summaries appear only once the page's scripts have fetched and drawn the document.
  const summary = page.getByText("Register an application (OAuth client).");
  await summary.first().waitFor({ timeout: 30_000 });
  t.ok(await summary.first().isVisible(), "an admin operation's summary is shown");
  t.ok(await page.getByText("Exchange an authorization code, refresh tokens").first().isVisible(), "and an OAuth one's");
  t.same(failed, [], "every request the page made succeeded");
});
