// Several server processes on one PostgreSQL database: every single-use and rotation
// guarantee holds when racing requests land on different processes (issue 5), the
// device code's too (issue 14).
//
// Four real processes (`node --import tsx src/main/server.ts`, no build) share one schema
// of TEST_DATABASE_URL: A, B and C with the default refresh grace period (60 s), and
// Z with APPGRANT_REFRESH_GRACE_PERIOD=0. The grace period only matters to the process
// that handles a presented rotated refresh token: A, B and C must all keep 60 s, or
// scenario 2's concurrent retries would count as reuse; scenario 3 sends the reuse to
// Z, so one extra process (rather than a second trio, a few CPU-seconds each to start)
// gives it a grace of 0 while its rotation and its successor go to A, B and C. Races
// go over real HTTP (fetch); outcomes are checked in the responses and in the
// database, read directly with pg.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import t, { type Test } from "tap";
import { sha256 } from "../../src/crypto/tokens.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device-authorization.js";
import { ADMIN_TOKEN, freshDatabase } from "../support/helper.js";
import { connectSchema, http, type HttpResult, type ServerProcess, startServer, stopServer } from "../support/multi-process-helper.js";

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

interface Pair {
  access_token: string;
  refresh_token: string;
}

interface TokenRow {
  id: string;
  installationId: string;
  familyId: string;
  generation: number;
  parentId: string | null;
  accessTokenHash: string;
  refreshTokenHash: string;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

if (!TEST_DATABASE_URL) {
  t.plan(0, "TEST_DATABASE_URL is not set: the cross-process race test needs PostgreSQL (the SQLite suite serves one process)");
} else {
  // One subtest holds everything, so tap waits for it (and runs its teardown on failure too).
  t.test("three server processes (and a fourth with grace 0) on one PostgreSQL schema", main);
}

async function main(t: Test): Promise<void> {
  const started = Date.now();
  // Everything is torn down in one place, in order: processes first (they hold
  // connections to the schema), then the direct connection, then the schema.
  const schemaCleanups: (() => unknown)[] = [];
  const servers: ServerProcess[] = [];
  let db: pg.Client | undefined;
  t.teardown(async () => {
    if (t.passing() === false) {
      for (const server of servers) t.comment(`--- last log lines of ${server.name} ---\n${server.log.slice(-40).join("\n")}`);
    }
    await Promise.all(servers.map((server) => stopServer(server)));
    await db?.end().catch(() => undefined);
    for (const cleanup of schemaCleanups) await cleanup();
    t.comment(`multi-process: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  });

  const databaseUrl = await freshDatabase({ teardown: (fn) => schemaCleanups.push(fn) });
  const secretKey = randomBytes(32).toString("hex"); // one key for every process
  // The processes' connections carry an application_name of their own (scenario 5 waits for them).
  const applicationName = `appgrant-mp-${randomBytes(4).toString("hex")}`;
  const serverUrl = new URL(databaseUrl);
  serverUrl.searchParams.set("application_name", applicationName);
  const env = (grace: string | undefined, poolSize: string): Record<string, string> => ({
    DATABASE_URL: serverUrl.toString(),
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: secretKey,
    APPGRANT_PG_POOL_SIZE: poolSize,
    // Four processes racing on a loaded CI machine: single use is under test here, not
    // the database deadlines (test/fault/), so a starved process must not turn into a 503.
    APPGRANT_DB_CONNECT_TIMEOUT: "15000",
    APPGRANT_DB_QUERY_TIMEOUT: "15000",
    LOG_LEVEL: "info",
    APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device", // scenario 5
    ...(grace !== undefined ? { APPGRANT_REFRESH_GRACE_PERIOD: grace } : {}),
  });
  const specs = [
    { name: "A", env: env(undefined, "10") },
    { name: "B", env: env(undefined, "10") },
    { name: "C", env: env(undefined, "10") },
    { name: "Z", env: env("0", "4") },
  ];
  const startup = Date.now();
  // allSettled: a process that did start must still be registered for teardown.
  const outcomes = await Promise.allSettled(specs.map((spec) => startServer(spec)));
  for (const outcome of outcomes) if (outcome.status === "fulfilled") servers.push(outcome.value);
  const failed = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as Error] : []));
  if (failed.length > 0) throw new Error(`server processes failed to start:\n${failed.map((e) => e.message).join("\n")}`);
  t.comment(`${servers.length} processes ready in ${((Date.now() - startup) / 1000).toFixed(1)} s`);
  const [A, B, C, Z] = servers as [ServerProcess, ServerProcess, ServerProcess, ServerProcess];
  const trio = [A, B, C];
  t.equal(new Set(servers.map((s) => s.base)).size, servers.length, "every process has its own port");
  t.equal(new Set(servers.map((s) => s.child.pid)).size, servers.length, "four distinct processes");

  db = await connectSchema(databaseUrl);
  const dbClient = db;
  const tokenRows = async (where: string, value: string): Promise<TokenRow[]> =>
    (
      await dbClient.query<TokenRow>(
        `SELECT "id", "installationId", "familyId", "generation", "parentId", "accessTokenHash", "refreshTokenHash",
                "rotatedAt", "revokedAt", "revokedReason"
         FROM "Token" WHERE "${where}" = $1 ORDER BY "generation", "createdAt"`,
        [value],
      )
    ).rows;
  const rowByRefresh = async (refreshToken: string): Promise<TokenRow> => {
    const rows = await tokenRows("refreshTokenHash", sha256(refreshToken));
    if (rows.length !== 1) throw new Error(`expected one Token row for a refresh token, found ${rows.length}`);
    return rows[0]!;
  };

  // --- the platform's side, over HTTP -------------------------------------------------
  const admin = (server: ServerProcess, method: string, path: string, json?: unknown) =>
    http(server, method, `/admin/v1${path}`, { bearer: ADMIN_TOKEN, ...(json !== undefined ? { json } : {}) });

  const created = await admin(A, "POST", "/applications", {
    name: "Multi-process app",
    redirect_uris: ["https://app.example/callback"],
    scopes: ["read", "write"],
  });
  t.equal(created.status, 201, "application created through process A");
  const client = { client_id: String(created.body.client_id), client_secret: String(created.body.client_secret) };

  let accounts = 0;
  const installOn = async (server: ServerProcess): Promise<{ id: string; code: string }> => {
    const res = await admin(server, "POST", "/installations", { client_id: client.client_id, account: `acct-${++accounts}` });
    if (res.status !== 201) throw new Error(`install on ${server.name}: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: String(res.body.id), code: String(res.body.code) };
  };
  const reissueCode = async (server: ServerProcess, installationId: string): Promise<string> => {
    const res = await admin(server, "POST", `/installations/${installationId}/code`);
    if (res.status !== 201) throw new Error(`reissue code on ${server.name}: ${res.status} ${JSON.stringify(res.body)}`);
    return String(res.body.code);
  };

  // --- the application's side ---------------------------------------------------------
  const token = (server: ServerProcess, form: Record<string, string>) => http(server, "POST", "/oauth/token", { form: { ...client, ...form } });
  const exchange = (server: ServerProcess, code: string) => token(server, { grant_type: "authorization_code", code });
  const refresh = (server: ServerProcess, refreshToken: string) => token(server, { grant_type: "refresh_token", refresh_token: refreshToken });
  const pairOf = (res: HttpResult, what: string): Pair => {
    if (res.status !== 200 || typeof res.body.access_token !== "string" || typeof res.body.refresh_token !== "string") {
      throw new Error(`${what} on ${res.server}: expected a token pair, got ${res.status} ${JSON.stringify(res.body)}`);
    }
    return { access_token: res.body.access_token, refresh_token: res.body.refresh_token };
  };
  const exchangeOk = async (server: ServerProcess, code: string) => pairOf(await exchange(server, code), "code exchange");
  const refreshOk = async (server: ServerProcess, refreshToken: string) => pairOf(await refresh(server, refreshToken), "refresh");
  /** The platform's resource server asks process `server` whether a token is live. */
  const active = async (server: ServerProcess, value: string): Promise<boolean> => {
    const res = await http(server, "POST", "/oauth/introspect", { bearer: ADMIN_TOKEN, form: { token: value } });
    if (res.status !== 200 || typeof res.body.active !== "boolean") {
      throw new Error(`introspection on ${server.name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body.active;
  };
  const isInvalidGrant = (res: HttpResult) => res.status === 400 && res.body.error === "invalid_grant";

  // Every process verifies the client secret once (argon2, ~140 ms) and remembers it,
  // so the races below are about the token store, not about argon2's thread pool. The
  // answer also proves each process authenticates a client created through process A.
  const warm = await Promise.all(servers.map((server) => exchange(server, "not-a-code")));
  for (const res of warm) t.ok(isInvalidGrant(res), `${res.server} authenticates the client (then rejects the bogus code)`, { got: res });

  await t.test("1. one code, thirty concurrent exchanges over three processes: exactly one token pair", async (t) => {
    const N = 10;
    const PER_CODE = 30;
    const installs = await Promise.all(Array.from({ length: N }, (_, i) => installOn(trio[i % 3]!)));
    const scenarioStart = Date.now();
    // Every request of every code at once, each code's 30 spread round-robin over A, B, C.
    const results = await Promise.all(
      installs.map(({ code }) => Promise.all(Array.from({ length: PER_CODE }, (_, j) => exchange(trio[j % 3]!, code)))),
    );
    t.comment(`${N * PER_CODE} exchanges in ${Date.now() - scenarioStart} ms`);
    const winners: string[] = [];
    for (const [i, answers] of results.entries()) {
      const { id, code } = installs[i]!;
      const ok = answers.filter((res) => res.status === 200);
      const others = answers.filter((res) => res.status !== 200);
      t.equal(ok.length, 1, `code ${i}: exactly one of ${PER_CODE} exchanges gets tokens`);
      t.equal(others.filter(isInvalidGrant).length, PER_CODE - 1, `code ${i}: every other answer is 400 invalid_grant`, {
        unexpected: others.filter((res) => !isInvalidGrant(res)),
      });
      if (ok.length !== 1) continue;
      winners.push(ok[0]!.server);
      const pair = pairOf(ok[0]!, "winning exchange");

      const { rows: grants } = await dbClient.query<{ id: string; consumedAt: Date | null }>(
        `SELECT "id", "consumedAt" FROM "Grant" WHERE "codeHash" = $1`,
        [sha256(code)],
      );
      t.equal(grants.length, 1, `code ${i}: its grant row exists`);
      t.ok(grants[0]?.consumedAt, `code ${i}: the grant is consumed`);
      const rows = await tokenRows("installationId", id);
      t.equal(rows.length, 1, `code ${i}: its installation has exactly one Token row`);
      const family = rows.filter((row) => row.familyId === grants[0]?.id);
      t.equal(family.length, 1, `code ${i}: the code's family has one row`);
      t.equal(family.filter((row) => row.generation === 1).length, 1, `code ${i}: ... of generation 1`);
      t.equal(family[0]?.accessTokenHash, sha256(pair.access_token), `code ${i}: it is the pair the winner received`);
      t.equal(family[0]?.refreshTokenHash, sha256(pair.refresh_token), `code ${i}: ... refresh token included`);
      // RFC 6749 §10.5: the other 29 were second uses of a consumed code, so what it
      // produced is revoked, whichever process issued it.
      t.ok(family[0]?.revokedAt, `code ${i}: the pair is revoked because the code was used again`);
      t.equal(family[0]?.revokedReason, "code_reused", `code ${i}: ... for code reuse`);
    }
    t.comment(`winning processes: ${winners.join(" ")}`);
    const { rows: counted } = await dbClient.query<{ count: string }>(`SELECT count(*) FROM "Token" WHERE "installationId" = ANY($1)`, [
      installs.map((i) => i.id),
    ]);
    t.equal(Number(counted[0]?.count), N, `${N} codes produced ${N} Token rows in all`);
  });

  await t.test("2. one refresh token, thirty concurrent refreshes over three processes: exactly one successor", async (t) => {
    const N = 10;
    const PER_TOKEN = 30;
    const pairs = await Promise.all(Array.from({ length: N }, async (_, i) => exchangeOk(trio[i % 3]!, (await installOn(trio[(i + 1) % 3]!)).code)));
    const parents = await Promise.all(pairs.map((pair) => rowByRefresh(pair.refresh_token)));
    const scenarioStart = Date.now();
    const results = await Promise.all(
      pairs.map((pair, i) => Promise.all(Array.from({ length: PER_TOKEN }, (_, j) => refresh(trio[(i + j) % 3]!, pair.refresh_token)))),
    );
    t.comment(`${N * PER_TOKEN} refreshes in ${Date.now() - scenarioStart} ms`);
    const okCounts: number[] = [];
    for (const [i, answers] of results.entries()) {
      const parent = parents[i]!;
      const ok = answers.filter((res) => res.status === 200);
      okCounts.push(ok.length);
      t.ok(ok.length >= 1, `token ${i}: at least one refresh succeeds`);
      const distinct = new Set(ok.map((res) => `${String(res.body.access_token)} ${String(res.body.refresh_token)}`));
      t.equal(distinct.size, 1, `token ${i}: every 200 carries the identical pair`, { servers: ok.map((res) => res.server) });
      const others = answers.filter((res) => res.status !== 200);
      t.equal(others.filter(isInvalidGrant).length, others.length, `token ${i}: every other answer is 400 invalid_grant`, {
        unexpected: others.filter((res) => !isInvalidGrant(res)),
      });
      if (ok.length === 0) continue;
      const successor = pairOf(ok[0]!, "refresh");
      t.not(successor.refresh_token, pairs[i]!.refresh_token, `token ${i}: the refresh token rotated`);

      const children = await tokenRows("parentId", parent.id);
      t.equal(children.length, 1, `token ${i}: exactly one row has it as parent`);
      t.equal(children[0]?.accessTokenHash, sha256(successor.access_token), `token ${i}: that row is the pair returned`);
      t.equal(children[0]?.refreshTokenHash, sha256(successor.refresh_token), `token ${i}: ... refresh token included`);
      t.equal(children[0]?.generation, 2, `token ${i}: ... of generation 2`);
      t.equal(children[0]?.revokedAt, null, `token ${i}: the successor is live (the retries were within the grace period)`);
      const family = await tokenRows("familyId", parent.familyId);
      t.equal(family.length, 2, `token ${i}: the family holds the parent and one successor, nothing else`);
      t.ok((await rowByRefresh(pairs[i]!.refresh_token)).rotatedAt, `token ${i}: the parent is marked rotated`);
      // Every process sees the one successor as live.
      t.same(
        await Promise.all(trio.map((server) => active(server, successor.access_token))),
        [true, true, true],
        `token ${i}: A, B and C all introspect the successor as active`,
      );
    }
    t.comment(`200s per token (of ${PER_TOKEN}): ${okCounts.join(" ")}`);
  });

  await t.test("3. reuse of a rotated refresh token revokes the family across processes (grace period 0)", async (t) => {
    // Each family rotates on one of A, B, C; the old refresh token is presented to Z
    // (grace 0: any second presentation is reuse); the successor is tried on another.
    const roles: [ServerProcess, ServerProcess, ServerProcess][] = [
      [A, B, C],
      [B, C, A],
      [C, A, B],
    ];
    for (const [rotateOn, introspectOn, successorOn] of roles) {
      const label = `rotate on ${rotateOn.name}, reuse on Z, successor on ${successorOn.name}`;
      const first = await exchangeOk(rotateOn, (await installOn(rotateOn)).code);
      const second = await refreshOk(rotateOn, first.refresh_token);
      t.same(
        await Promise.all(servers.map((s) => active(s, second.access_token))),
        servers.map(() => true),
        `${label}: the successor is active on every process before the reuse`,
      );

      const reused = await refresh(Z, first.refresh_token);
      t.ok(isInvalidGrant(reused), `${label}: the old refresh token on Z → invalid_grant`, { got: reused });
      const afterReuse = await refresh(successorOn, second.refresh_token);
      t.ok(isInvalidGrant(afterReuse), `${label}: the successor's refresh token on ${successorOn.name} → invalid_grant`, { got: afterReuse });
      for (const server of servers) {
        t.equal(await active(server, second.access_token), false, `${label}: ${server.name} introspects the successor access token as inactive`);
      }
      t.equal(await active(introspectOn, second.refresh_token), false, `${label}: ${introspectOn.name} introspects its refresh token as inactive`);
      // Once revoked, the old token is refused by a process with a grace period too.
      const again = await refresh(introspectOn, first.refresh_token);
      t.ok(isInvalidGrant(again), `${label}: the old refresh token on ${introspectOn.name} (grace 60) → invalid_grant`, { got: again });

      const family = await tokenRows("familyId", (await rowByRefresh(first.refresh_token)).familyId);
      t.equal(family.length, 2, `${label}: the family has two rows (no successor was issued to the reuse)`);
      t.ok(
        family.every((row) => row.revokedAt !== null),
        `${label}: every row of the family is revoked`,
      );
      t.equal(family[1]?.revokedReason, "refresh_reused", `${label}: ... for refresh token reuse`);
    }
  });

  await t.test("3b. with the default grace period, reuse after the successor was used still revokes the family", async (t) => {
    const first = await exchangeOk(A, (await installOn(A)).code);
    const second = await refreshOk(A, first.refresh_token);
    const third = await refreshOk(B, second.refresh_token); // the successor is used: no retry can be honoured now
    const reused = await refresh(C, first.refresh_token);
    t.ok(isInvalidGrant(reused), "the first refresh token on C → invalid_grant", { got: reused });
    const later = await refresh(A, third.refresh_token);
    t.ok(isInvalidGrant(later), "the newest refresh token on A → invalid_grant", { got: later });
    t.equal(await active(B, third.access_token), false, "B introspects the newest access token as inactive");
    const family = await tokenRows("familyId", (await rowByRefresh(first.refresh_token)).familyId);
    t.equal(family.length, 3, "three generations, no fourth");
    t.ok(
      family.every((row) => row.revokedAt !== null),
      "every row of the family is revoked",
    );
  });

  await t.test("4. uninstall through one process revokes what the others issued", async (t) => {
    const installation = await installOn(A);
    const first = await exchangeOk(A, installation.code);
    const second = await refreshOk(A, first.refresh_token);
    const otherFamily = await exchangeOk(A, await reissueCode(A, installation.id));
    t.equal(await active(C, second.access_token), true, "before: C introspects the token issued by A as active");
    t.equal(await active(C, otherFamily.access_token), true, "before: ... and the second family's");

    const removed = await admin(B, "DELETE", `/installations/${installation.id}`);
    t.equal(removed.status, 204, "uninstalled through B's admin API", { got: removed });
    for (const value of [second.access_token, second.refresh_token, otherFamily.access_token, otherFamily.refresh_token]) {
      t.equal(await active(C, value), false, "after: C introspects it as inactive");
    }
    for (const pair of [second, otherFamily]) {
      const res = await refresh(A, pair.refresh_token);
      t.ok(isInvalidGrant(res), "after: a refresh on A → invalid_grant", { got: res });
    }
    const rows = await tokenRows("installationId", installation.id);
    t.equal(rows.length, 3, "the installation's three Token rows, nothing issued after");
    t.ok(
      rows.every((row) => row.revokedAt !== null),
      "every one of them is revoked",
    );
  });

  await t.test("4b. uninstall racing twenty concurrent refreshes: no token of the installation stays live", async (t) => {
    // Each round: one installation with 4 token families (its code, reissued 3 times),
    // then one uninstall and 20 refreshes spread over A, B and C. Two ways to fire them:
    // - "burst": all 20 refreshes (5 per family) and the uninstall leave at once; most
    //   of a family's 5 are retries of its one rotation (grace period: same pair);
    // - "chain k": each family refreshes 5 times in a row, always with the newest
    //   refresh token, so rotations keep committing on all three processes; the
    //   uninstall leaves the moment the k-th refresh answered, i.e. while up to four
    //   rotations are in flight. This is the window the installation row lock guards.
    const FAMILIES = 4;
    const STEPS = 5; // per family: 20 refreshes per round
    const rounds: ({ kind: "burst"; delayMs: number } | { kind: "chain"; after: number })[] = [
      { kind: "burst", delayMs: 0 },
      { kind: "burst", delayMs: 3 },
      { kind: "chain", after: 0 },
      { kind: "chain", after: 1 },
      { kind: "chain", after: 3 },
      { kind: "chain", after: 5 },
      { kind: "chain", after: 8 },
      { kind: "chain", after: 12 },
    ];
    const tally = { succeeded: 0, refused: 0, overlapping: 0 };
    for (const [r, round] of rounds.entries()) {
      const installation = await installOn(trio[r % 3]!);
      const pairs: Pair[] = [await exchangeOk(trio[r % 3]!, installation.code)];
      for (let f = 1; f < FAMILIES; f++) pairs.push(await exchangeOk(trio[(r + f) % 3]!, await reissueCode(trio[f % 3]!, installation.id)));
      const uninstallOn = trio[(r + 1) % 3]!;
      const label = `round ${r} (${round.kind === "burst" ? `burst, uninstall after ${round.delayMs} ms` : `chain, uninstall after ${round.after} answers`} on ${uninstallOn.name})`;

      let fire!: () => void;
      const fired = new Promise<void>((resolve) => (fire = resolve));
      const timing = { sent: 0, answered: 0 };
      const uninstalled = fired.then(async () => {
        timing.sent = performance.now();
        const res = await admin(uninstallOn, "DELETE", `/installations/${installation.id}`);
        timing.answered = performance.now();
        return res;
      });
      interface Attempt {
        res: HttpResult;
        sent: number;
        answered: number;
      }
      let answeredCount = 0;
      const attempt = async (server: ServerProcess, refreshToken: string): Promise<Attempt> => {
        const sent = performance.now();
        const res = await refresh(server, refreshToken);
        if (round.kind === "chain" && ++answeredCount === round.after) fire();
        return { res, sent, answered: performance.now() };
      };
      let chains: Attempt[][];
      if (round.kind === "burst") {
        setTimeout(fire, round.delayMs);
        const all = await Promise.all(Array.from({ length: FAMILIES * STEPS }, (_, j) => attempt(trio[j % 3]!, pairs[j % FAMILIES]!.refresh_token)));
        chains = pairs.map((_, f) => all.filter((_, j) => j % FAMILIES === f));
      } else {
        if (round.after === 0) fire();
        chains = await Promise.all(
          pairs.map(async (pair, f) => {
            const attempts: Attempt[] = [];
            let current = pair.refresh_token;
            for (let step = 0; step < STEPS; step++) {
              const done = await attempt(trio[(f + step) % 3]!, current);
              attempts.push(done);
              // After a refusal the same (now dead) token is presented again.
              if (done.res.status === 200) current = String(done.res.body.refresh_token);
            }
            return attempts;
          }),
        );
      }
      fire(); // (already fired: every round's trigger is reached; this only bounds the wait)
      const removed = await uninstalled;
      t.equal(removed.status, 204, `${label}: the uninstall succeeded`, { got: removed });

      const attempts = chains.flat();
      const ok = attempts.filter((a) => a.res.status === 200);
      const refused = attempts.filter((a) => a.res.status !== 200);
      tally.succeeded += ok.length;
      tally.refused += refused.length;
      tally.overlapping += attempts.filter((a) => a.sent < timing.answered && a.answered > timing.sent).length;
      t.equal(attempts.length, FAMILIES * STEPS, `${label}: ${FAMILIES * STEPS} refreshes answered`);
      t.same(
        refused.filter((a) => !isInvalidGrant(a.res)).map((a) => a.res),
        [],
        `${label}: every refused refresh is 400 invalid_grant`,
      );
      t.same(
        attempts.filter((a) => a.sent > timing.answered && a.res.status === 200).map((a) => a.res.server),
        [],
        `${label}: no refresh sent after the uninstall answered succeeds`,
      );
      if (round.kind === "chain") {
        // Once one process refused a family's newest token, no process may rotate it later.
        const revived = chains.filter((chain) => chain.some((a, i) => a.res.status === 200 && chain.slice(0, i).some((b) => b.res.status !== 200)));
        t.equal(revived.length, 0, `${label}: no family succeeds again after a refusal`);
      }

      const rows = await tokenRows("installationId", installation.id);
      t.same(
        rows.filter((row) => row.revokedAt === null).map((row) => row.id),
        [],
        `${label}: every Token row of the installation is revoked (${rows.length} rows)`,
      );
      const successors = new Set(ok.map((a) => String(a.res.body.refresh_token)));
      t.equal(rows.length, FAMILIES + successors.size, `${label}: one row per code and one per distinct successor returned, nothing else`);
      const perParent = new Map<string, number>();
      for (const row of rows) if (row.parentId) perParent.set(row.parentId, (perParent.get(row.parentId) ?? 0) + 1);
      t.ok(
        [...perParent.values()].every((n) => n === 1),
        `${label}: no refresh token has two successors`,
      );
      // Whatever a refresh returned during the race is dead now, on every process.
      const stillActive = await Promise.all(ok.map((a, k) => active(trio[k % 3]!, String(a.res.body.access_token))));
      t.same(stillActive.filter(Boolean), [], `${label}: the ${ok.length} pairs returned during the race are inactive everywhere`);
    }
    t.comment(
      `uninstall races: ${tally.succeeded} refreshes answered 200, ${tally.refused} refused, ${tally.overlapping} were in flight while the uninstall was`,
    );
  });

  await t.test("5. one device code, thirty concurrent polls over three processes before and after the accept: one token pair", async (t) => {
    const created = await admin(A, "POST", "/applications", {
      name: "Multi-process CLI",
      redirect_uris: ["https://app.example/callback"], // required of every application, even one that only polls
      client_type: "public",
      grant_types: [DEVICE_CODE_GRANT, "refresh_token"],
      scopes: ["read"],
    });
    t.equal(created.status, 201, "a public CLI application, through A", { got: created.body });
    const cliId = String(created.body.client_id);
    const started = await http(B, "POST", "/oauth/device_authorization", { form: { client_id: cliId } });
    t.equal(started.status, 200, "a device authorization, through B", { got: started.body });
    const deviceCode = String(started.body.device_code);
    const userCode = String(started.body.user_code);
    const poll = (server: ServerProcess) =>
      http(server, "POST", "/oauth/token", { form: { client_id: cliId, grant_type: DEVICE_CODE_GRANT, device_code: deviceCode } });
    const PER_CODE = 30;
    const errorsOf = (answers: HttpResult[]) => answers.map((res) => String(res.body.error ?? res.status));
    const count = (answers: HttpResult[], error: string) => errorsOf(answers).filter((e) => e === error).length;
    const { rows: authorizations } = await dbClient.query<{ id: string }>(`SELECT "id" FROM "DeviceAuthorization" WHERE "applicationId" = $1`, [
      String(created.body.id),
    ]);
    t.equal(authorizations.length, 1, "one device authorization");
    const authorizationId = authorizations[0]!.id;

    /**
     * The polls, racing for real: over HTTP they reach the database one after the other
     * often enough that a poll reads what the previous one committed (a check-then-write
     * without the conditional write passed here). So a second connection holds the device
     * authorization's row lock while they are sent, until every one has read the row and
     * waits for the lock in its conditional UPDATE (the poll's record, or the exchange);
     * then they all go at once. The waits are watched from a third connection: within the
     * lock's transaction, pg_stat_activity would stay the snapshot of its first read.
     */
    const locker = await connectSchema(databaseUrl);
    const watcher = await connectSchema(databaseUrl);
    t.teardown(() => Promise.all([locker.end(), watcher.end()]).catch(() => undefined));
    const waitingPolls = async () =>
      (
        await watcher.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE '%UPDATE "DeviceAuthorization"%'`,
          [applicationName],
        )
      ).rows[0]!.n;
    const racingPolls = async (): Promise<HttpResult[]> => {
      await locker.query("BEGIN");
      await locker.query(`SELECT 1 FROM "DeviceAuthorization" WHERE "id" = $1 FOR UPDATE`, [authorizationId]);
      const polls = Promise.allSettled(Array.from({ length: PER_CODE }, (_, j) => poll(trio[j % 3]!)));
      const deadline = Date.now() + 10_000;
      let waiting = await waitingPolls();
      while (waiting < PER_CODE && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        waiting = await waitingPolls();
      }
      await locker.query("COMMIT");
      t.equal(waiting, PER_CODE, "every poll read the row before any could write it");
      return (await polls).map((outcome) =>
        outcome.status === "fulfilled" ? outcome.value : { status: 0, body: { failed: String(outcome.reason) }, server: "?" },
      );
    };

    // Before the accept (as in test/http/device-flow.test.ts): every poll read a row never
    // polled, so each is on time, but only one records itself (authorization_pending); the
    // others find the record changed under them and came too soon (slow_down).
    const before = await racingPolls();
    t.equal(count(before, "authorization_pending"), 1, "before: one poll recorded (authorization_pending)", { got: errorsOf(before) });
    t.equal(count(before, "slow_down"), PER_CODE - 1, "before: every other one slow_down");

    const accepted = await admin(C, "POST", `/device-authorizations/${userCode}/accept`, { account: "acct-device" });
    t.equal(accepted.status, 200, "accepted through C", { got: accepted.body });
    const installationId = String(accepted.body.installation_id);

    // After the accept every poll read the authorization as accepted and not consumed, and
    // tries to take the pair: one conditional write lets one.
    const after = await racingPolls();
    const ok = after.filter((res) => res.status === 200);
    t.equal(ok.length, 1, "after: exactly one poll gets tokens", { winners: ok.map((res) => res.server) });
    const others = after.filter((res) => res.status !== 200);
    t.equal(others.filter(isInvalidGrant).length, PER_CODE - 1, "after: every other one invalid_grant", {
      unexpected: others.filter((res) => !isInvalidGrant(res)),
    });
    if (ok.length !== 1) return;
    const pair = pairOf(ok[0]!, "device poll");
    t.comment(`winning process: ${ok[0]!.server}`);

    const { rows: consumed } = await dbClient.query<{ status: string; consumedAt: Date | null; interval: number }>(
      `SELECT "status", "consumedAt", "interval" FROM "DeviceAuthorization" WHERE "id" = $1`,
      [authorizationId],
    );
    t.equal(consumed[0]?.status, "accepted");
    t.ok(consumed[0]?.consumedAt, "consumed");
    t.equal(consumed[0]?.interval, 5 + 5 * (PER_CODE - 1), "each slow_down added 5 s to the interval");
    const rows = await tokenRows("installationId", installationId);
    t.equal(rows.length, 1, "one Token row for the installation");
    t.equal(rows[0]?.familyId, authorizationId, "of the device authorization's family");
    t.equal(rows[0]?.accessTokenHash, sha256(pair.access_token), "the pair the winner received");
    t.equal(rows[0]?.refreshTokenHash, sha256(pair.refresh_token), "refresh token included");
    t.equal(rows[0]?.revokedAt, null, "and live: the other polls were no reuse");
    t.same(await Promise.all(trio.map((server) => active(server, pair.access_token))), [true, true, true], "A, B and C introspect it as active");
    const late = await poll(A);
    t.ok(isInvalidGrant(late), "a later poll: invalid_grant", { got: late });
  });

  t.ok(
    servers.every((server) => server.exited === null),
    "no process crashed during the races",
    { exited: servers.filter((s) => s.exited).map((s) => ({ name: s.name, exited: s.exited })) },
  );
}
