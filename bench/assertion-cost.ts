// What private_key_jwt adds to a client_credentials request, one part at a time, on
// SQLite (issue 11): `npm run bench` gives the two methods' req/s; this splits the
// difference. Each part runs in the server's own code, on a fresh database opened as the
// server opens it (background checkpoints included), in this one process:
//   verify  — the assertion as client-auth checks it once the rows are read: the unverified
//             iss (assertionIssuer), then verifyAssertion with the key row (ES256, jose;
//             the imported key cached as the server caches it) and a jti store that
//             accepts everything, so no write is counted;
//   jti     — the store's useAssertionId, a new jti each time (the ClientAssertion insert):
//             awaited one at a time (a request alone pays a commit), and 50 at once (the
//             bench's connections: group commit shares one transaction among them);
//   keys    — the store's findClientKeys, the read a client secret does not need;
//   and, for reference, where "verify" goes: jose's jwtVerify alone (the same claim
//   options), WebCrypto's verify of the signature alone (what jose calls), and node:crypto's
//   (no JOSE, no WebCrypto).
// Each figure is the median of RUNS runs (after one warm-up run) of OPS operations, in µs
// per operation: elapsed time (with the fastest and slowest run), and the CPU time of the
// whole process (every thread: WebCrypto's and SQLite's work off the main thread counts),
// which is what a server pinned to one core pays.
//
//   npx tsx bench/assertion-cost.ts            (BENCH_COST_RUNS, BENCH_COST_OPS to change)
import { createHash, createPublicKey, randomBytes, randomUUID, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CryptoKey, importJWK, jwtVerify, SignJWT } from "jose";
import { loadConfig } from "../src/main/config.js";
import { assertionIssuer, CLIENT_ASSERTION_RULES, verifyAssertion } from "../src/oauth/client-assertion.js";
import { openDatabase } from "../src/storage/database.js";
import { migrateDatabase } from "../src/storage/migrate.js";
import { seedSqlite } from "./seed.js";

const RUNS = Number(process.env.BENCH_COST_RUNS ?? 7);
const OPS = Number(process.env.BENCH_COST_OPS ?? 2000);
const CONCURRENCY = 50;

interface Figure {
  name: string;
  median: number;
  min: number;
  max: number;
  cpu: number;
}

const middle = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** µs per operation of `op`, RUNS times after a warm-up; `batch` operations are started together. */
async function measure(name: string, op: () => Promise<unknown>, batch = 1): Promise<Figure> {
  const perOp: number[] = [];
  const cpuPerOp: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    for (let done = 0; done < OPS; done += batch) await Promise.all(Array.from({ length: batch }, op));
    const cpu = process.cpuUsage(cpuStart);
    if (run === 0) continue; // warm-up
    perOp.push(((performance.now() - start) * 1000) / OPS);
    cpuPerOp.push((cpu.user + cpu.system) / OPS);
  }
  return { name, median: middle(perOp), min: Math.min(...perOp), max: Math.max(...perOp), cpu: middle(cpuPerOp) };
}

const dir = mkdtempSync(join(tmpdir(), "appgrant-assertion-cost-"));
try {
  const url = `file:${join(dir, "bench.db")}`;
  const config = loadConfig({ DATABASE_URL: url, APPGRANT_SECRET_KEY: randomBytes(32).toString("hex"), APPGRANT_ISSUER: "https://auth.example" });
  await migrateDatabase(config.database);
  const seed = await seedSqlite(join(dir, "bench.db"), 0, 1);
  const database = await openDatabase(config.database, config.db);
  try {
    const store = database.tokens;
    const now = new Date();
    const client = (await store.findClient(seed.clientId, now))!;
    const keys = await store.findClientKeys(client.id);
    const rules = { ...CLIENT_ASSERTION_RULES, audiences: [config.issuer, `${config.issuer}/oauth/token`] };
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: seed.kid })
      .setIssuer(seed.clientId)
      .setSubject(seed.clientId)
      .setAudience(config.issuer)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(seed.privateKey);
    const acceptEveryJti = { useAssertionId: async () => true };
    const expiresAt = new Date(now.getTime() + 360_000);
    const [signedPart, signature] = [assertion.slice(0, assertion.lastIndexOf(".")), Buffer.from(assertion.split(".")[2]!, "base64url")];
    const publicKey = createPublicKey({ key: JSON.parse(keys[0]!.publicJwk), format: "jwk" });
    const cryptoKey = (await importJWK(JSON.parse(keys[0]!.publicJwk), "ES256")) as CryptoKey;
    const jwtOptions = { algorithms: ["ES256"], currentDate: now, issuer: seed.clientId, subject: seed.clientId, audience: rules.audiences };
    const jtiId = () => createHash("sha256").update(`${client.id}\n${randomUUID()}`).digest("hex");

    const figures = [
      await measure("verify: ES256 assertion, as client-auth (jose)", async () => {
        assertionIssuer(assertion);
        await verifyAssertion(assertion, client, keys, acceptEveryJti, now, rules);
      }),
      await measure("jti: ClientAssertion insert, one at a time", () => store.useAssertionId(jtiId(), client.id, expiresAt, now)),
      await measure(
        `jti: ClientAssertion insert, ${CONCURRENCY} at once`,
        () => store.useAssertionId(jtiId(), client.id, expiresAt, now),
        CONCURRENCY,
      ),
      await measure("keys: findClientKeys (one key)", () => store.findClientKeys(client.id)),
      await measure("(reference) jose jwtVerify alone", () => jwtVerify(assertion, cryptoKey, jwtOptions)),
      await measure("(reference) signature, WebCrypto verify", async () => {
        if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, cryptoKey, signature, Buffer.from(signedPart)))) {
          throw new Error("bad signature");
        }
      }),
      await measure("(reference) signature, node:crypto verify", async () => {
        if (!verify("sha256", Buffer.from(signedPart), { key: publicKey, dsaEncoding: "ieee-p1363" }, signature)) throw new Error("bad signature");
      }),
    ];
    const µs = (value: number) => value.toFixed(1).padStart(7);
    console.log(`Node ${process.version}, SQLite, ${RUNS} runs of ${OPS} operations (after a warm-up run); µs per operation\n`);
    console.log(`${"part".padEnd(48)} median      min      max   CPU median`);
    for (const f of figures) console.log(`${f.name.padEnd(48)}${µs(f.median)}  ${µs(f.min)}  ${µs(f.max)}      ${µs(f.cpu)}`);
    const [verifying, jtiAlone, jtiGrouped, keyRead] = figures as [Figure, Figure, Figure, Figure];
    const sum = (jti: Figure, of: "median" | "cpu") => (verifying[of] + jti[of] + keyRead[of]).toFixed(0);
    console.log(
      `\nprivate_key_jwt adds, per request, verify + jti + keys: ${sum(jtiAlone, "median")} µs elapsed (${sum(jtiAlone, "cpu")} µs CPU) ` +
        `alone, ${sum(jtiGrouped, "median")} µs (${sum(jtiGrouped, "cpu")} µs CPU) with ${CONCURRENCY} requests sharing commits`,
    );
  } finally {
    await database.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
