// The issuer (discovery's `issuer`, every `iss`) comes from APPGRANT_ISSUER, which the
// server and the CLI both read through loadConfig: on the same configuration the CLI's
// links carry the server's iss. Unset, each derives http://localhost:<PORT> from its own
// PORT, so they can differ: both say so (the server at start, the CLI with a link).
import t, { type Test } from "tap";
import { loadConfig } from "../../src/main/config.js";
import { cliOnFreshDir, createArgs, json } from "../support/cli-helper.js";
import { startServer, stopServer } from "../support/multi-process-helper.js";

t.test("the configuration says whether the issuer was derived from PORT", async (t) => {
  t.equal(loadConfig({ PORT: "8080" }).issuerFromPort, true);
  t.equal(loadConfig({}).issuerFromPort, true);
  t.equal(loadConfig({ APPGRANT_ISSUER: "https://auth.example" }).issuerFromPort, false);
});

/** Runs a server on the CLI's database with `env`, returns discovery's issuer and the server's log. */
async function serverIssuer(t: Test, databaseUrl: string, env: Record<string, string>): Promise<{ issuer: string; log: string }> {
  const server = await startServer({ name: "issuer", env: { DATABASE_URL: databaseUrl, LOG_LEVEL: "info", ...env } });
  t.teardown(() => stopServer(server));
  const res = await fetch(`${server.base}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(15_000) });
  const issuer = ((await res.json()) as { issuer: string }).issuer;
  await stopServer(server);
  return { issuer, log: server.log.join("\n") };
}

const configurations: { name: string; env: Record<string, string>; derived: boolean }[] = [
  // startServer listens on PORT=0; the CLI is given the same PORT.
  { name: "APPGRANT_ISSUER unset", env: { PORT: "0" }, derived: true },
  { name: "APPGRANT_ISSUER set (a trailing slash is dropped)", env: { PORT: "0", APPGRANT_ISSUER: "https://auth.example/tenant/" }, derived: false },
];

for (const c of configurations) {
  t.test(`the CLI's link carries the server's iss on the same configuration (${c.name})`, async (t) => {
    const { cli, dbFile } = cliOnFreshDir(t);
    const app = json(await cli.env(c.env, ...createArgs, "--json"));
    t.notMatch((await cli.env(c.env, "apps", "show", app.id)).stderr, /APPGRANT_ISSUER/, "no warning without a link");
    const installed = await cli.env(c.env, "installs", "create", "--client-id", app.client_id, "--account", "acme", "--json");
    const link = new URL(json(installed).redirect_to);
    const { issuer, log } = await serverIssuer(t, `file:${dbFile}`, c.env);
    t.equal(link.searchParams.get("iss"), issuer, `iss ${issuer}`);
    if (c.derived) {
      t.match(installed.stderr, /APPGRANT_ISSUER is not set/, "the CLI warns next to the link");
      t.ok(installed.stderr.includes(issuer), "and names the issuer it used");
      const warning = log.split("\n").find((line) => line.includes("APPGRANT_ISSUER is not set"));
      t.ok(warning, "the server warns at start");
      t.match(JSON.parse(warning ?? "{}"), { level: 40 }, "as a warning");
    } else {
      t.notMatch(installed.stderr, /APPGRANT_ISSUER/, "no warning from the CLI");
      t.notMatch(log, /APPGRANT_ISSUER is not set/, "no warning from the server");
    }
  });
}
