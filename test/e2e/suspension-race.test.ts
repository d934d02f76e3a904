// A suspend racing refreshes on three server processes sharing one PostgreSQL schema
// (issue 13): the installation's tokens are refreshed in a loop on A, B and C while
// process A suspends it. No refresh started after the suspend answered gets a token;
// every refused refresh token is left unspent; the database holds a row for each
// token handed out and no other; and unsuspending (on B) restores them all.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import t, { type Test } from "tap";
import { sha256 } from "../../src/crypto/tokens.js";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { connectSchema, http, type HttpResult, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

if (!TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: the cross-process suspension race needs PostgreSQL");
} else {
  t.test("refreshes on three processes racing a suspend", main);
}

interface Attempt {
  family: number;
  server: string;
  startedAt: number;
  res: HttpResult;
}

async function main(t: Test): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  const servers: ServerProcess[] = [];
  let db: pg.Client | undefined;
  t.teardown(async () => {
    if (t.passing() === false) {
      for (const server of servers) t.comment(`--- last log lines of ${server.name} ---\n${server.log.slice(-30).join("\n")}`);
    }
    await Promise.all(servers.map((server) => stopServer(server)));
    await db?.end().catch(() => undefined);
    for (const cleanup of cleanups) await cleanup();
  });

  const databaseUrl = await freshDatabase({ teardown: (fn) => cleanups.push(fn) });
  const env = {
    DATABASE_URL: databaseUrl,
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"),
    APPGRANT_PG_POOL_SIZE: "10",
    APPGRANT_DB_CONNECT_TIMEOUT: "15000",
    APPGRANT_DB_QUERY_TIMEOUT: "15000",
    LOG_LEVEL: "info", // the helper finds the port in the "Server listening" line
  };
  const outcomes = await Promise.allSettled(["A", "B", "C"].map((name) => startServer({ name, env })));
  for (const outcome of outcomes) if (outcome.status === "fulfilled") servers.push(outcome.value);
  const failed = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [String(outcome.reason)] : []));
  if (failed.length > 0) throw new Error(`server processes failed to start:\n${failed.join("\n")}`);
  const [A, B, C] = servers as [ServerProcess, ServerProcess, ServerProcess];
  db = await connectSchema(databaseUrl);
  const tokenCount = async () => Number((await db!.query<{ n: string }>(`SELECT count(*) AS n FROM "Token"`)).rows[0]!.n);

  const admin = (server: ServerProcess, method: string, path: string, json?: unknown) =>
    http(server, method, `/admin/v1${path}`, { bearer: ADMIN_TOKEN, ...(json !== undefined ? { json } : {}) });
  const created = await admin(A, "POST", "/applications", { name: "Race", redirect_uris: ["https://app.example/cb"], scopes: ["read"] });
  const client = { client_id: String(created.body.client_id), client_secret: String(created.body.client_secret) };
  const installed = await admin(A, "POST", "/installations", { client_id: client.client_id, account: "acme" });
  const installationId = String(installed.body.id);
  const token = (server: ServerProcess, form: Record<string, string>) => http(server, "POST", "/oauth/token", { form: { ...client, ...form } });
  const refresh = (server: ServerProcess, refreshToken: string) => token(server, { grant_type: "refresh_token", refresh_token: refreshToken });
  const active = async (server: ServerProcess, value: string) =>
    (await http(server, "POST", "/oauth/introspect", { bearer: ADMIN_TOKEN, form: { token: value } })).body.active;

  // Twelve token families of the one installation, each from its own code.
  const FAMILIES = 12;
  const latest: { access: string; refresh: string }[] = [];
  let code = String(installed.body.code);
  for (let i = 0; i < FAMILIES; i++) {
    if (i > 0) code = String((await admin(B, "POST", `/installations/${installationId}/code`)).body.code);
    const res = await token(servers[i % 3]!, { grant_type: "authorization_code", code });
    if (res.status !== 200) throw new Error(`exchange: ${res.status} ${JSON.stringify(res.body)}`);
    latest.push({ access: String(res.body.access_token), refresh: String(res.body.refresh_token) });
  }
  const before = await tokenCount();

  // Each family refreshes in a loop, round-robin over the processes, until refused.
  const attempts: Attempt[] = [];
  let suspendAnsweredAt = Number.POSITIVE_INFINITY;
  const loop = async (family: number) => {
    for (let round = 0; round < 500; round++) {
      const server = servers[(family + round) % 3]!;
      const startedAt = performance.now();
      const res = await refresh(server, latest[family]!.refresh);
      attempts.push({ family, server: server.name, startedAt, res });
      if (res.status !== 200) return;
      latest[family] = { access: String(res.body.access_token), refresh: String(res.body.refresh_token) };
    }
  };
  const loops = Array.from({ length: FAMILIES }, (_, family) => loop(family));
  // Suspend once every family has rotated a few times: the refreshes are in full flow.
  while (attempts.length < FAMILIES * 4) await new Promise((resolve) => setTimeout(resolve, 5));
  const suspended = await admin(A, "POST", `/installations/${installationId}/suspend`, { reason: "race" });
  suspendAnsweredAt = performance.now();
  t.equal(suspended.status, 200, "process A suspends");
  await Promise.all(loops);

  const won = attempts.filter((a) => a.res.status === 200);
  const refused = attempts.filter((a) => a.res.status !== 200);
  t.comment(`${won.length} refreshes rotated, ${refused.length} refused`);
  t.equal(refused.length, FAMILIES, "each family's loop ended with one refusal");
  for (const a of refused) {
    t.match(
      a.res,
      { status: 400, body: { error: "invalid_grant", error_description: "the installation is suspended" } },
      `family ${a.family} on ${a.server}`,
    );
  }
  t.same(
    won.filter((a) => a.startedAt > suspendAnsweredAt).map((a) => `${a.family}@${a.server}`),
    [],
    "no refresh started after the suspend answered got a token",
  );
  t.equal(await tokenCount(), before + won.length, "a Token row for each token handed out, and no other");
  for (const [family, pair] of latest.entries()) {
    const { rows } = await db.query<{ rotatedAt: Date | null; revokedAt: Date | null }>(
      `SELECT "rotatedAt", "revokedAt" FROM "Token" WHERE "refreshTokenHash" = $1`,
      [sha256(pair.refresh)],
    );
    t.same(rows, [{ rotatedAt: null, revokedAt: null }], `family ${family}: the refused refresh token is unspent`);
    t.equal(await active(servers[family % 3]!, pair.access), false, `family ${family}: its access token is inactive`);
  }

  t.equal((await admin(B, "POST", `/installations/${installationId}/unsuspend`)).status, 200, "process B unsuspends");
  for (const [family, pair] of latest.entries()) {
    t.equal(await active(C, pair.access), true, `family ${family}: active again`);
    t.equal((await refresh(C, pair.refresh)).status, 200, `family ${family}: refreshes again`);
  }
}
