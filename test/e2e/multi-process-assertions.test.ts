// A private_key_jwt assertion's jti is single-use across server processes (issue 11):
// two real processes on one PostgreSQL schema, the same assertion sent to both at once,
// several times over; exactly one request gets an installation token. The key is the
// one the admin API generated (its PEM, as the app would keep it).
import { randomBytes, randomUUID } from "node:crypto";
import { importPKCS8, SignJWT } from "jose";
import t from "tap";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { http, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ISSUER = "https://auth.example";

if (!process.env.TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: this race needs several processes on PostgreSQL");
} else {
  t.test("one assertion sent to two processes at once is accepted once", async (t) => {
    const databaseUrl = await freshDatabase(t);
    const env = {
      DATABASE_URL: databaseUrl,
      APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
      APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
      APPGRANT_ISSUER: ISSUER,
      LOG_LEVEL: "info",
      APPGRANT_RATE_LIMIT_PER_IP: "0",
    };
    const servers: ServerProcess[] = [];
    t.teardown(async () => {
      if (t.passing() === false) for (const s of servers) t.comment(`--- ${s.name} ---\n${s.log.slice(-30).join("\n")}`);
      await Promise.all(servers.map((s) => stopServer(s, 2_000)));
    });
    servers.push(...(await Promise.all(["a", "b"].map((name) => startServer({ name, env })))));
    const [a, b] = servers as [ServerProcess, ServerProcess];

    const app = await http(a, "POST", "/admin/v1/applications", {
      bearer: ADMIN_TOKEN,
      json: { name: "Bot", redirect_uris: ["https://app.example/cb"], scopes: ["read"], grant_types: ["client_credentials"] },
    });
    t.equal(app.status, 201);
    const clientId = app.body.client_id as string;
    const key = await http(b, "POST", `/admin/v1/applications/${app.body.id}/keys`, { bearer: ADMIN_TOKEN, json: {} });
    t.equal(key.status, 201);
    const privateKey = await importPKCS8(key.body.private_key as string, "ES256");
    const installation = await http(a, "POST", "/admin/v1/installations", { bearer: ADMIN_TOKEN, json: { client_id: clientId, account: "acme" } });
    t.equal(installation.status, 201);

    for (let round = 0; round < 5; round++) {
      const assertion = await new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: "ES256", kid: key.body.kid as string })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(ISSUER)
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
      const form = {
        grant_type: "client_credentials",
        installation_id: installation.body.id as string,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      };
      const results = await Promise.all([a, b, a, b].map((server) => http(server, "POST", "/oauth/token", { form })));
      t.same(
        results.map((r) => r.status).sort(),
        [200, 401, 401, 401],
        `round ${round}: one token, three replays refused (${results.map((r) => `${r.server}:${r.status}`).join(" ")})`,
      );
      const refused = results.filter((r) => r.status === 401);
      t.ok(
        refused.every((r) => /jti has already been used/.test(String(r.body.error_description))),
        "refused as replays",
      );
    }
  });
}
