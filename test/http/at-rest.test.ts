// The database holds no usable credential: after a scenario that issues secrets,
// codes and tokens, every column of every row of every table is scanned for them.
import argon2 from "argon2";
import { exportJWK, importPKCS8 } from "jose";
import Database from "better-sqlite3";
import pg from "pg";
import t from "tap";
import { PREFIXES, sha256 } from "../../src/crypto/tokens.js";
import { buildTestApp, createApp, install, type TestApp } from "../support/helper.js";
import type { DatabaseLocation } from "../../src/storage/settings.js";

/** Any appgrant credential (ags_ secrets, agc_ codes, aga_/agr_ tokens, and any kind added later). */
const CREDENTIAL_SOURCE = `(?:${Object.values(PREFIXES).join("|")})[0-9A-Za-z]{49}(?:[0-9A-Za-z]{22})?`;
const CREDENTIAL = new RegExp(CREDENTIAL_SOURCE);
const credentialsIn = (text: string) => [...text.matchAll(new RegExp(CREDENTIAL_SOURCE, "g"))].map((m) => m[0]);
/** $argon2id$v=19$<m, t and p in any order>$<salt>$<hash> */
const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$(?=[^$]*\bm=\d+)(?=[^$]*\bt=\d+)(?=[^$]*\bp=\d+)[mtp]=\d+(,[mtp]=\d+){2}\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{32,}$/;

/**
 * Everything the admin API and the token endpoint hand out in a typical life. Returns
 * the secrets, codes and tokens by kind, and every credential any response carried.
 */
async function scenario(test: TestApp) {
  const responses: string[] = [];
  const record = <T extends { body: string }>(res: T): T => {
    responses.push(res.body);
    return res;
  };
  const secrets: string[] = [];
  const codes: string[] = [];
  const confidential = await createApp(test, {
    name: "Confidential",
    webhook_url: "https://confidential.example/hook",
    grant_types: ["authorization_code", "refresh_token", "client_credentials"],
  });
  const pub = await createApp(test, { name: "Public", client_type: "public", redirect_uris: ["http://127.0.0.1:9000/cb"] });
  responses.push(JSON.stringify(confidential), JSON.stringify(pub));
  secrets.push(confidential.client_secret!);
  const added = record(await test.admin("POST", `/admin/v1/applications/${confidential.id}/secrets`, {}));
  secrets.push(added.json().client_secret);
  // A generated key pair: only its public key is kept; the private key is the caller's alone.
  const key = record(await test.admin("POST", `/admin/v1/applications/${confidential.id}/keys`, {}));
  const privateKeyPem: string = key.json().private_key;
  const privateScalar = (await exportJWK(await importPKCS8(privateKeyPem, "ES256", { extractable: true }))).d!;
  const privateKeys = [privateScalar, ...privateKeyPem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"))];

  const a = await install(test, confidential.client_id, { account: "acme" });
  const b = await install(test, confidential.client_id, { account: "globex", scopes: ["read"] });
  const c = await install(test, pub.client_id, { account: "acme" });
  responses.push(JSON.stringify([a, b, c]));
  codes.push(a.code, b.code, c.code);
  const reissued = record(await test.admin("POST", `/admin/v1/installations/${a.id}/code`));
  codes.push(reissued.json().code);
  record(await test.admin("DELETE", `/admin/v1/installations/${b.id}`));

  // The app exchanges the live code for tokens, then refreshes them once.
  const tokens: string[] = [];
  const basic = `Basic ${Buffer.from(`${confidential.client_id}:${secrets[1]}`).toString("base64")}`;
  let refreshToken = "";
  for (const payload of [() => `grant_type=authorization_code&code=${codes[3]}`, () => `grant_type=refresh_token&refresh_token=${refreshToken}`]) {
    const res = record(
      await test.app.inject({
        method: "POST",
        url: "/oauth/token",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
        payload: payload(),
      }),
    );
    if (res.statusCode !== 200) throw new Error(`scenario: token request failed: ${res.statusCode} ${res.body}`);
    tokens.push(res.json().access_token, res.json().refresh_token);
    refreshToken = res.json().refresh_token;
  }

  // An installation access token (client_credentials): an access token alone.
  const installationToken = record(
    await test.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      payload: `grant_type=client_credentials&installation_id=${a.id}`,
    }),
  );
  if (installationToken.statusCode !== 200) throw new Error(`scenario: installation token failed: ${installationToken.body}`);
  tokens.push(installationToken.json().access_token);

  for (const value of [...secrets, ...codes, ...tokens]) {
    if (typeof value !== "string" || !CREDENTIAL.test(value)) throw new Error("scenario: a credential was not issued");
  }
  const everything = [...new Set(responses.flatMap(credentialsIn))];
  return { secrets, codes, tokens, everything, privateKeys };
}

interface Cell {
  table: string;
  column: string;
  text: string;
}

function cellText(value: unknown): string {
  if (Buffer.isBuffer(value)) return `${value.toString("utf8")} ${value.toString("latin1")} ${value.toString("hex")}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function collect(table: string, rows: Record<string, unknown>[], cells: Cell[]): void {
  for (const row of rows) {
    for (const [column, value] of Object.entries(row)) {
      if (value !== null && value !== undefined) cells.push({ table, column, text: cellText(value) });
    }
  }
}

/** Every cell of every table of the database (its catalogue lists them), as text. */
async function scanDatabase(database: DatabaseLocation): Promise<{ cells: Cell[]; rowsPerTable: Record<string, number> }> {
  const cells: Cell[] = [];
  const rowsPerTable: Record<string, number> = {};
  if (database.kind === "sqlite") {
    const db = new Database(database.path, { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      for (const { name } of tables) {
        const rows = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all() as Record<string, unknown>[];
        rowsPerTable[name] = rows.length;
        collect(name, rows, cells);
      }
    } finally {
      db.close();
    }
    return { cells, rowsPerTable };
  }
  // PostgreSQL (TEST_DATABASE_URL): every base table of the test's schema.
  const { schema, connectionString } = database;
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
      [schema],
    );
    for (const { table_name: name } of tables.rows) {
      const rows = await client.query<Record<string, unknown>>(`SELECT * FROM "${schema}"."${name.replaceAll('"', '""')}"`);
      rowsPerTable[name] = rows.rows.length;
      collect(name, rows.rows, cells);
    }
  } finally {
    await client.end();
  }
  return { cells, rowsPerTable };
}

t.test("no plaintext secret, code or token is stored anywhere in the database", async (t) => {
  const test = await buildTestApp(t);
  const { secrets, codes, tokens, everything, privateKeys } = await scenario(test);
  const { cells, rowsPerTable } = await scanDatabase(test.config.database);

  t.match(
    rowsPerTable,
    { Application: 2, ClientSecret: 2, ApplicationKey: 1, Installation: 3, Grant: 4, Token: 3, ClientAssertion: Number, _prisma_migrations: Number },
    "the scan sees every table and the scenario's rows",
  );
  t.ok(
    cells.some((c) => c.table === "Installation" && c.column === "account" && c.text === "globex"),
    "the scan reads cell values",
  );

  t.ok(everything.length >= secrets.length + codes.length + tokens.length, `${everything.length} credentials were handed out`);
  for (const value of new Set([...secrets, ...codes, ...tokens, ...everything])) {
    const hits = cells.filter((c) => c.text.includes(value) || c.text.includes(value.slice(4)));
    t.same(hits, [], `${value.slice(0, 4)}… is not stored, not even without its prefix`);
  }
  t.ok(
    cells.some((c) => c.table === "ApplicationKey" && c.column === "publicJwk"),
    "the scan reads the application key's row",
  );
  for (const [index, value] of privateKeys.entries()) {
    t.same(
      cells.filter((c) => c.text.includes(value)),
      [],
      index === 0 ? "the generated key's private scalar is not stored" : `line ${index} of its private key PEM is not stored`,
    );
  }
  t.same(
    cells.filter((c) => c.text.includes("PRIVATE KEY")),
    [],
    "no PEM private key is stored",
  );
  const shaped = cells.filter((c) => CREDENTIAL.test(c.text));
  t.same(shaped, [], "nothing shaped like an appgrant credential is stored");
});

t.test("client secrets are stored as argon2id hashes of the issued secrets", async (t) => {
  const test = await buildTestApp(t);
  const { secrets } = await scenario(test);
  const rows = await test.app.domain.db.clientSecret.findMany();
  t.equal(rows.length, secrets.length, "one row per issued secret");
  for (const row of rows) t.match(row.secretHash, ARGON2ID_PHC, "an argon2id PHC string");
  for (const secret of secrets) {
    const matches = [];
    for (const row of rows) if (await argon2.verify(row.secretHash, secret)) matches.push(row.id);
    t.equal(matches.length, 1, "each issued secret verifies against exactly one stored hash");
  }
  t.equal(new Set(rows.map((r) => r.secretHash)).size, rows.length, "hashes are salted: no two alike");
});

t.test("codes are stored as the SHA-256 of the issued code", async (t) => {
  const test = await buildTestApp(t);
  const { codes } = await scenario(test);
  const grants = await test.app.domain.db.authorizationCode.findMany();
  t.same(
    grants.map((g) => g.codeHash).sort(),
    codes.map(sha256).sort(),
    "the stored hashes are exactly sha256 of the codes handed out, reissued and revoked ones included",
  );
  for (const grant of grants) t.match(grant.codeHash, /^[0-9a-f]{64}$/);
});

t.test("access and refresh tokens are stored as the SHA-256 of the issued tokens", async (t) => {
  const test = await buildTestApp(t);
  const { tokens } = await scenario(test);
  const rows = await test.app.domain.db.token.findMany({ orderBy: { id: "asc" } });
  t.same(
    rows.map((r) => [r.accessTokenHash, r.refreshTokenHash]),
    [
      [sha256(tokens[0]!), sha256(tokens[1]!)],
      [sha256(tokens[2]!), sha256(tokens[3]!)],
      [sha256(tokens[4]!), null],
    ],
    "each pair's row holds the hashes of exactly that pair; the installation token's, its hash and no refresh token",
  );
});

/** A CLI through the device flow (RFC 8628): its device code, user code and tokens, and every credential handed out. */
async function deviceScenario(test: TestApp) {
  const responses: string[] = [];
  const record = <T extends { body: string }>(res: T): T => {
    responses.push(res.body);
    return res;
  };
  const codes: string[] = [];
  const tokens: string[] = [];
  // A CLI through the device flow (RFC 8628): its device code, its user code, its tokens.
  const cli = await createApp(test, {
    name: "CLI",
    client_type: "public",
    grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
  });
  const started = record(
    await test.app.inject({
      method: "POST",
      url: "/oauth/device_authorization",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `client_id=${cli.client_id}`,
    }),
  );
  const { device_code: deviceCode, user_code: userCode } = started.json() as { device_code: string; user_code: string };
  codes.push(deviceCode);
  record(await test.admin("POST", `/admin/v1/device-authorizations/${userCode}/accept`, { account: "acme" }));
  const polled = record(
    await test.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=${deviceCode}&client_id=${cli.client_id}`,
    }),
  );
  if (polled.statusCode !== 200) throw new Error(`scenario: device flow failed: ${polled.statusCode} ${polled.body}`);
  tokens.push(polled.json().access_token, polled.json().refresh_token);

  return {
    deviceCode,
    userCodes: [userCode, userCode.replace("-", ""), userCode.replace("-", "").toLowerCase()],
    tokens,
    everything: responses.flatMap(credentialsIn),
  };
}

t.test("the device flow stores no device code, user code or token: hashes only, the user code's keyed", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_DEVICE_VERIFICATION_URL: "https://platform.example/device" });
  const { deviceCode, userCodes, tokens, everything } = await deviceScenario(test);
  const { cells, rowsPerTable } = await scanDatabase(test.config.database);
  t.match(rowsPerTable, { DeviceAuthorization: 1, Token: 1 }, "the scan sees the device authorization and its tokens");
  t.ok(everything.includes(deviceCode), "the device code was handed out");
  for (const value of new Set([deviceCode, ...tokens, ...everything])) {
    t.same(
      cells.filter((c) => c.text.includes(value) || c.text.includes(value.slice(4))),
      [],
      `${value.slice(0, 4)}… is not stored, not even without its prefix`,
    );
  }
  for (const value of userCodes)
    t.same(
      cells.filter((c) => c.text.includes(value)),
      [],
      `the user code as ${value} is not stored`,
    );
  const row = await test.app.domain.db.deviceAuthorization.findFirstOrThrow();
  t.equal(row.deviceCodeHash, sha256(deviceCode), "the device code as its SHA-256");
  t.notOk(
    userCodes.some((code) => row.userCodeHash === sha256(code)),
    "the user code not as a plain hash: 2^40 codes are enumerable",
  );
});
