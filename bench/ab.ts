// A paired comparison of two builds on SQLite, for a change too small for a whole bench run
// on a host whose speed drifts: each build (a checkout with `npm run build` done, e.g. a
// `git worktree` of the commit before) serves its own fresh database seeded alike, both
// pinned to core 1 and started together; short load runs then alternate A B, B A, A B… and
// each pair's B/A is printed, with the median. Drift slower than a pair cancels out.
//   npx tsx bench/ab.ts <dir A> <dir B> [refresh|code|introspect|cc-secret] [pairs=8] [seconds=3]
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { migrateDatabase } from "../src/storage/migrate.js";
import { parseDatabaseUrl } from "../src/storage/settings.js";
import { seedSqlite } from "./seed.js";
import { ADMIN_TOKEN, basicAuth, serverEnv, startServer, stop } from "./run.js";

const [dirA, dirB, kind = "introspect", pairsText = "8", secondsText = "3"] = process.argv.slice(2) as string[];
const pairs = Number(pairsText),
  seconds = Number(secondsText);
const tmp = mkdtempSync(join(tmpdir(), "ab-"));
const servers: ChildProcess[] = [];
try {
  const need = kind === "introspect" || kind === "cc-secret" ? 60_000 : 15_000 * seconds * (pairs + 1);
  const sides: { port: number; values: string[]; auth: string; used: number }[] = [];
  for (const [i, dir] of [dirA!, dirB!].entries()) {
    const url = `file:${join(tmp, `db${i}.db`)}`;
    await migrateDatabase(parseDatabaseUrl(url));
    const seed = await seedSqlite(url.slice(5), kind === "code" ? need : 1000, kind === "code" ? 1000 : need);
    const port = 3950 + i;
    // Each build's own server script, in the bench servers' environment.
    servers.push(await startServer(port, 1, [join(resolve(dir), "dist/main/server.js")], serverEnv(url)));
    const values = { refresh: seed.refreshTokens, code: seed.codes, introspect: seed.accessTokens, "cc-secret": seed.installationIds }[kind];
    if (values === undefined) throw new Error(`unknown load: ${kind}`);
    const auth = kind === "introspect" ? `Bearer ${ADMIN_TOKEN}` : basicAuth(seed);
    sides.push({ port, values, auth, used: 0 });
  }
  const run = (side: (typeof sides)[number]) => {
    const per = Math.ceil(side.values.length / (pairs + 1));
    const slice = kind === "introspect" || kind === "cc-secret" ? side.values : side.values.slice(side.used, side.used + per);
    side.used += per;
    const file = join(tmp, "values.json");
    writeFileSync(file, JSON.stringify(slice));
    const out = execFileSync(
      "taskset",
      [
        "-c",
        "0",
        process.execPath,
        "--import",
        "tsx",
        "bench/load.ts",
        `http://127.0.0.1:${side.port}`,
        file,
        kind,
        String(seconds),
        "50",
        side.auth,
      ],
      { encoding: "utf8" },
    );
    return JSON.parse(out.trim().split("\n").pop()!) as { rps: number; p99: number; non2xx: number; errors: number };
  };
  run(sides[0]!);
  run(sides[1]!); // warm-up
  const ratios: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const [a, b] =
      p % 2 === 0
        ? [run(sides[0]!), run(sides[1]!)]
        : (() => {
            const b = run(sides[1]!);
            return [run(sides[0]!), b];
          })();
    ratios.push(b.rps / a.rps);
    console.log(
      `pair ${p}: A ${a.rps.toFixed(0)} B ${b.rps.toFixed(0)} B/A ${(b.rps / a.rps).toFixed(3)} (non2xx ${a.non2xx + b.non2xx}, errors ${a.errors + b.errors})`,
    );
  }
  ratios.sort((x, y) => x - y);
  console.log(
    `${kind}: median B/A ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)} (min ${ratios[0]!.toFixed(3)}, max ${ratios.at(-1)!.toFixed(3)})`,
  );
} finally {
  await stop(servers);
  rmSync(tmp, { recursive: true, force: true });
}
