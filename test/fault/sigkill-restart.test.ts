// SIGKILL under load, then a restart on the same database (issue 8): 50 concurrent
// chains, each exchanging codes and refreshing, on a real server process killed
// mid-flight; then a new process on the same database (SQLite, or a PostgreSQL schema
// with TEST_DATABASE_URL) and the same server key. Counted and asserted:
// - every token pair acknowledged before the kill and not yet spent is still there:
//   its access token is active, its refresh token gives exactly one successor;
// - a refresh sent before the kill whose answer never came returns, when retried, the
//   pair the rotation derives (idempotent successor), whether or not the rotation had
//   committed; retrying again gives it again;
// - no code gave tokens twice: at most one first-generation pair per code in the
//   database, and every code exchanged before the kill (answered or not) is refused
//   afterwards unless its exchange had not committed, in which case it works once.
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import t, { type Test } from "tap";
import { credentialSelector, sha256 } from "../../src/crypto/tokens.js";
import { successorTokens } from "../../src/oauth/successor.js";
import { parseDatabaseUrl } from "../../src/storage/settings.js";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { connectSchema, http, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";

const CHAINS = 50;
const CODES_PER_CHAIN = 5;
const REFRESHES_PER_CODE = 3;
const ACKNOWLEDGED_BEFORE_KILL = 250;
const REQUEST_TIMEOUT_MS = 15_000;

interface Pair {
  access_token: string;
  refresh_token: string;
}

type Answer = { status: number; body: Record<string, unknown> } | "unanswered";

interface Chain {
  codes: string[];
  /** Codes whose exchange was answered 200. */
  exchanged: string[];
  /** Codes sent whose answer never came. */
  exchangeUnanswered: string[];
  /** Refresh tokens sent whose answer never came. */
  refreshUnanswered: string[];
  /** The last acknowledged pair, not yet presented. */
  current: Pair | undefined;
  /** Acknowledged pairs left unpresented when the chain moved on to its next code. */
  abandoned: Pair[];
  failures: string[];
}

/** Reads the database directly, SQLite or PostgreSQL, with `?` placeholders. */
async function reader(
  databaseUrl: string,
): Promise<{ all(sql: string, ...params: string[]): Promise<Record<string, unknown>[]>; close(): Promise<void> }> {
  const database = parseDatabaseUrl(databaseUrl);
  if (database.kind === "sqlite") {
    const db = new Database(database.path, { readonly: true });
    return { all: async (sql, ...params) => db.prepare(sql).all(...params) as Record<string, unknown>[], close: async () => void db.close() };
  }
  const client = await connectSchema(databaseUrl);
  return {
    all: async (sql, ...params) => {
      let n = 0;
      return (
        await client.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows as Record<string, unknown>[];
    },
    close: () => client.end(),
  };
}

async function call(base: string, form: Record<string, string>, basic: string): Promise<Answer> {
  try {
    const res = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return "unanswered";
  }
}

/** Runs fn over items, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

t.test("SIGKILL during 50 refresh chains and code exchanges; restart on the same database", async (t: Test) => {
  const databaseUrl = await freshDatabase(t);
  const secretKey = randomBytes(32).toString("hex");
  const env = {
    DATABASE_URL: databaseUrl,
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: secretKey,
    // Retries after the restart must fall within the grace period even on a slow machine.
    APPGRANT_REFRESH_GRACE_PERIOD: "900",
    APPGRANT_RATE_LIMIT_PER_IP: "0",
    APPGRANT_RATE_LIMIT_PER_CLIENT: "0",
    APPGRANT_RATE_LIMIT_AUTH_FAILURES: "0",
    APPGRANT_PG_POOL_SIZE: "8",
    LOG_LEVEL: "info", // startServer finds the port in the "Server listening" line
  };
  const servers: ServerProcess[] = [];
  t.teardown(async () => {
    if (t.passing() === false) for (const s of servers) t.comment(`--- ${s.name} ---\n${s.log.slice(-30).join("\n")}`);
    await Promise.all(servers.map((s) => stopServer(s, 2_000)));
  });

  const phase = (() => {
    let last = Date.now();
    return (name: string) => {
      t.comment(`${name}: ${((Date.now() - last) / 1000).toFixed(1)} s`);
      last = Date.now();
    };
  })();
  const before = await startServer({ name: "before", env });
  phase("first process ready");
  servers.push(before);
  const admin = (path: string, json: unknown) => http(before, "POST", `/admin/v1${path}`, { bearer: ADMIN_TOKEN, json });
  const app = await admin("/applications", { name: "Chains", redirect_uris: ["https://app.example/cb"], scopes: ["read", "write"] });
  t.equal(app.status, 201);
  const basic = `Basic ${Buffer.from(`${app.body.client_id}:${app.body.client_secret}`).toString("base64")}`;
  const chains: Chain[] = Array.from({ length: CHAINS }, () => ({
    codes: [],
    exchanged: [],
    exchangeUnanswered: [],
    refreshUnanswered: [],
    current: undefined,
    abandoned: [],
    failures: [],
  }));
  const accounts = chains.flatMap((chain, c) => Array.from({ length: CODES_PER_CHAIN }, (_, k) => ({ chain, account: `acct-${c}-${k}` })));
  await pool(accounts, 8, async ({ chain, account }) => {
    const installed = await admin("/installations", { client_id: app.body.client_id, account });
    if (installed.status !== 201) throw new Error(`setup: installation answered ${installed.status}`);
    chain.codes.push(String(installed.body.code));
  });
  phase(`${accounts.length} installations created`);
  const spareCode = chains[0]!.codes.pop()!; // never sent: must work after the restart
  // One authentication first: the server then remembers the verified secret, instead of
  // 50 concurrent first requests each paying an argon2 verification.
  const warm = await fetch(`${before.base}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
    body: "token=none",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  t.equal(warm.status, 200, "the client authenticates");

  // --- load, then SIGKILL --------------------------------------------------------------
  let acknowledged = 0;
  let killedAt = 0;
  const killed = new Promise<void>((resolve) => before.child.once("exit", () => resolve()));
  const drive = async (chain: Chain) => {
    let refreshes = 0;
    let code = 0;
    for (;;) {
      if (chain.current === undefined || refreshes >= REFRESHES_PER_CODE) {
        const next = chain.codes[code++];
        if (next === undefined) return;
        const answer = await call(before.base, { grant_type: "authorization_code", code: next }, basic);
        if (answer === "unanswered") return void chain.exchangeUnanswered.push(next);
        if (answer.status !== 200) return void chain.failures.push(`exchange answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        chain.exchanged.push(next);
        if (chain.current) chain.abandoned.push(chain.current);
        chain.current = answer.body as unknown as Pair;
        refreshes = 0;
      } else {
        const presented = chain.current.refresh_token;
        const answer = await call(before.base, { grant_type: "refresh_token", refresh_token: presented }, basic);
        if (answer === "unanswered") {
          chain.current = undefined;
          return void chain.refreshUnanswered.push(presented);
        }
        if (answer.status !== 200) return void chain.failures.push(`refresh answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        chain.current = answer.body as unknown as Pair;
        refreshes++;
      }
      if (++acknowledged === ACKNOWLEDGED_BEFORE_KILL) {
        killedAt = Date.now();
        before.child.kill("SIGKILL");
      }
    }
  };
  await Promise.all(chains.map(drive));
  if (killedAt === 0) {
    killedAt = Date.now();
    before.child.kill("SIGKILL");
  }
  await killed;
  phase("load until the kill");
  t.same(
    chains.flatMap((c) => c.failures),
    [],
    "no refusal before the kill",
  );
  t.equal(before.exited?.signal, "SIGKILL", "the first process was killed");

  const exchangedBefore = chains.flatMap((c) => c.exchanged);
  const unansweredExchanges = chains.flatMap((c) => c.exchangeUnanswered);
  const unansweredRefreshes = chains.flatMap((c) => c.refreshUnanswered);
  const unspent = chains.flatMap((c) => [...c.abandoned, ...(c.current ? [c.current] : [])]);
  t.comment(
    `before the kill: ${acknowledged} answers; in flight at the kill: ${unansweredRefreshes.length} refreshes, ` +
      `${unansweredExchanges.length} code exchanges; ${unspent.length} acknowledged pairs unspent`,
  );
  t.ok(unansweredRefreshes.length > 0, "refreshes were in flight at the kill");
  // Chains run at their own pace (a few may have used all their codes): most were mid-request.
  t.ok(unansweredRefreshes.length + unansweredExchanges.length > CHAINS / 2, "most chains had a request in flight at the kill");

  // --- restart on the same database ------------------------------------------------------
  const after = await startServer({ name: "after", env });
  servers.push(after);
  phase("second process ready");
  const db = await reader(databaseUrl);
  t.teardown(() => db.close());

  // Acknowledged pairs survived: introspection says active, before anything is refreshed.
  let active = 0;
  await pool(unspent, 8, async (pair) => {
    const res = await http(after, "POST", "/oauth/introspect", { bearer: ADMIN_TOKEN, form: { token: pair.access_token } });
    if (res.body.active === true) active++;
  });
  t.equal(active, unspent.length, `every acknowledged access token is active after the restart (${active})`);

  // A rotation whose answer was lost: the retry gets the derived pair, twice.
  let sameOnRetry = 0;
  await pool(unansweredRefreshes, 8, async (presented) => {
    const first = await call(after.base, { grant_type: "refresh_token", refresh_token: presented }, basic);
    const second = await call(after.base, { grant_type: "refresh_token", refresh_token: presented }, basic);
    // The successor row's id (the selector) is chosen at the rotation; the rest is derived.
    const successorId = first !== "unanswered" && first.status === 200 ? credentialSelector("refreshToken", String(first.body.refresh_token)) : null;
    const expected = successorTokens(secretKey, presented, successorId ?? "00000000-0000-7000-8000-000000000000");
    const matches = (answer: Answer) =>
      answer !== "unanswered" &&
      answer.status === 200 &&
      answer.body.refresh_token === expected.refreshToken &&
      answer.body.access_token === expected.accessToken;
    if (matches(first) && matches(second)) sameOnRetry++;
    else t.fail(`retry of an unanswered refresh: ${JSON.stringify(first)} / ${JSON.stringify(second)}`);
  });
  t.equal(sameOnRetry, unansweredRefreshes.length, `every unanswered rotation, retried, returns the same pair (${sameOnRetry})`);

  // An acknowledged, unspent refresh token works: one successor, whatever the retries.
  let once = 0;
  await pool(unspent, 8, async (pair) => {
    const first = await call(after.base, { grant_type: "refresh_token", refresh_token: pair.refresh_token }, basic);
    const again = await call(after.base, { grant_type: "refresh_token", refresh_token: pair.refresh_token }, basic);
    const [row] = await db.all(`SELECT "id" FROM "Token" WHERE "refreshTokenHash" = ?`, sha256(pair.refresh_token));
    const children = await db.all(`SELECT "id" FROM "Token" WHERE "parentId" = ?`, String(row?.id));
    const ok =
      first !== "unanswered" &&
      again !== "unanswered" &&
      first.status === 200 &&
      again.status === 200 &&
      first.body.refresh_token === again.body.refresh_token &&
      children.length === 1;
    if (ok) once++;
    else t.fail(`acknowledged refresh token: ${JSON.stringify(first)} / ${JSON.stringify(again)} / ${children.length} successors`);
  });
  t.equal(once, unspent.length, `every acknowledged refresh token gives exactly one successor (${once})`);

  // Codes: at most one first-generation pair each, in the database, before any retry...
  const doubles = async () =>
    db.all(`SELECT "grantId", COUNT(*) AS n FROM "Token" WHERE "generation" = 1 AND "grantId" IS NOT NULL GROUP BY "grantId" HAVING COUNT(*) > 1`);
  t.same(await doubles(), [], "no code gave two token pairs");
  // ...a code whose exchange was in flight works only if that exchange had not committed...
  for (const code of unansweredExchanges) {
    const [grant] = await db.all(`SELECT "consumedAt" FROM "Grant" WHERE "codeHash" = ?`, sha256(code));
    const committed = grant?.consumedAt !== null && grant?.consumedAt !== undefined;
    const retry = await call(after.base, { grant_type: "authorization_code", code }, basic);
    const status = retry === "unanswered" ? "unanswered" : retry.status;
    t.equal(status, committed ? 400 : 200, `an exchange in flight at the kill (${committed ? "committed" : "not committed"}) retried`);
  }
  // ...and every code answered before the kill is refused now.
  let refused = 0;
  await pool(exchangedBefore, 8, async (code) => {
    const again = await call(after.base, { grant_type: "authorization_code", code }, basic);
    if (again !== "unanswered" && again.status === 400 && again.body.error === "invalid_grant") refused++;
  });
  t.equal(refused, exchangedBefore.length, `no code exchanged before the kill works again (${refused})`);
  t.same(await doubles(), [], "still no code with two token pairs");

  const fresh = await call(after.base, { grant_type: "authorization_code", code: spareCode }, basic);
  t.equal(fresh !== "unanswered" && fresh.status, 200, "an untouched code still works after the restart");
  phase("checks after the restart");
});
