// Server keys (issue 8, defect 11): a list, newest first. The first encrypts webhook
// secrets and derives refresh successors; every key decrypts and verifies, so a key
// rotation breaks neither stored webhook secrets nor a refresh retried within the
// grace period. Keys come from APPGRANT_SECRET_KEY or APPGRANT_SECRET_KEY_FILE.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildApp } from "../../src/main/app.js";
import { ConfigError, loadConfig } from "../../src/main/config.js";
import { decrypt, encrypt, open } from "../../src/crypto/encryption.js";
import { parseKeyList, ServerKeys } from "../../src/crypto/server-keys.js";
import { credentialSelector, sha256 } from "../../src/crypto/tokens.js";
import { keyFileWarning } from "../../src/storage/secret-key.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../src/domain/applications.js";
import { reencryptWebhookSecrets } from "../../src/domain/reencrypt-webhook-secrets.js";
import { successorTokens } from "../../src/oauth/successor.js";
import { Webhook } from "standardwebhooks";
import { ADMIN_TOKEN, buildTestApp, freshDatabase, testClock, type TestClock } from "../support/helper.js";

const K0 = "0".repeat(64);
const K1 = "1".repeat(64);
const K2 = "2".repeat(64);

function configError(fn: () => unknown): ConfigError | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return undefined;
}

function scratchDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-keys-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function keyFile(dir: string, name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

t.test("a key list: commas, newlines and comments; no key ever shown", async (t) => {
  t.same(parseKeyList(`${K2},${K1}`), [K2, K1]);
  t.same(parseKeyList(`# rotated 2026-12-01\n${K2}\n\n  ${K1}  \n`), [K2, K1]);
  t.same(parseKeyList(` ${K2} , ${K1}\r\n`), [K2, K1]);
  t.same(new ServerKeys([K2, K1, K2]).all, [K2, K1], "a repeated key counts once");
  t.equal(new ServerKeys([K2, K1]).current, K2, "the first key is current");
  t.throws(() => new ServerKeys([]));
  const keys = new ServerKeys([K2, K1]);
  t.notMatch(JSON.stringify({ keys }), /2222/, "JSON shows no key");
  t.notMatch(inspect({ keys }), /2222/, "inspection (console.log, error dumps) shows no key");
});

t.test("webhook secrets: sealed under the first key, opened by any key in the list", async (t) => {
  const sealed = encrypt(new ServerKeys([K1]), WEBHOOK_SECRET_PURPOSE, "agw_secret");
  t.same(
    open(new ServerKeys([K2, K1]), WEBHOOK_SECRET_PURPOSE, sealed),
    { plaintext: "agw_secret", keyIndex: 1 },
    "the old key, second in the list, opens it",
  );
  t.equal(decrypt(new ServerKeys([K1, K2]), WEBHOOK_SECRET_PURPOSE, sealed), "agw_secret");
  t.throws(() => decrypt(new ServerKeys([K2]), WEBHOOK_SECRET_PURPOSE, sealed), /no server key opens/, "refused once the old key is gone");
  t.throws(() => decrypt(new ServerKeys([K1]), "another-purpose", sealed), /no server key opens/, "bound to its purpose");
  const resealed = encrypt(new ServerKeys([K2, K1]), WEBHOOK_SECRET_PURPOSE, "agw_secret");
  t.same(open(new ServerKeys([K2]), WEBHOOK_SECRET_PURPOSE, resealed), { plaintext: "agw_secret", keyIndex: 0 }, "new seals use the first key");
  t.throws(() => decrypt(new ServerKeys([K1]), WEBHOOK_SECRET_PURPOSE, "v1.AAAA"), /truncated/);
});

t.test("configuration: APPGRANT_SECRET_KEY and APPGRANT_SECRET_KEY_FILE", async (t) => {
  const dir = scratchDir(t);
  t.same(loadConfig({ APPGRANT_SECRET_KEY: `${K2},${K1}` }, dir).secretKeys, [K2, K1]);
  t.same(loadConfig({ APPGRANT_SECRET_KEY: `${K2}\n${K1}` }, dir).secretKeys, [K2, K1]);
  t.equal(loadConfig({}, dir).secretKeys, undefined, "unset: the SQLite key file decides");

  const file = keyFile(dir, "appgrant.key", `# newest first\n${K2}\n${K1}\n`);
  const fromFile = loadConfig({ APPGRANT_SECRET_KEY_FILE: file }, "/");
  t.same(fromFile.secretKeys, [K2, K1]);
  t.equal(fromFile.secretKeyFile, file);
  t.equal(
    loadConfig({ APPGRANT_SECRET_KEY_FILE: "appgrant.key" }, dir).secretKeyFile,
    file,
    "a relative path is resolved from the working directory",
  );
  t.same(
    loadConfig({ APPGRANT_SECRET_KEY_FILE: file, DATABASE_URL: "postgresql://u:p@db/appgrant" }, dir).secretKeys,
    [K2, K1],
    "satisfies PostgreSQL's need for a shared key",
  );
  t.equal(configError(() => loadConfig({ DATABASE_URL: "postgresql://u:p@db/appgrant" }, dir))?.variable, "APPGRANT_SECRET_KEY");

  const refusals: [Record<string, string>, string, RegExp][] = [
    [{ APPGRANT_SECRET_KEY: K1, APPGRANT_SECRET_KEY_FILE: file }, "APPGRANT_SECRET_KEY_FILE", /not both/],
    [{ APPGRANT_SECRET_KEY: `${K1},short-key-value` }, "APPGRANT_SECRET_KEY", /key 2 of 2 is shorter than 32/],
    [{ APPGRANT_SECRET_KEY: " , ," }, "APPGRANT_SECRET_KEY", /holds no key/],
    [{ APPGRANT_SECRET_KEY_FILE: join(dir, "missing.key") }, "APPGRANT_SECRET_KEY_FILE", /cannot read .*missing\.key \(ENOENT\)/],
    [{ APPGRANT_SECRET_KEY_FILE: dir }, "APPGRANT_SECRET_KEY_FILE", /not a regular file/],
    [{ APPGRANT_SECRET_KEY_FILE: keyFile(dir, "empty.key", "# nothing yet\n") }, "APPGRANT_SECRET_KEY_FILE", /holds no key/],
    [{ APPGRANT_SECRET_KEY_FILE: keyFile(dir, "short.key", "short-key-value\n") }, "APPGRANT_SECRET_KEY_FILE", /shorter than 32/],
    [{ APPGRANT_SECRET_KEY_FILE: keyFile(dir, "open.key", K1, 0o666) }, "APPGRANT_SECRET_KEY_FILE", /writable by other users \(mode 0666\)/],
    [{ APPGRANT_SECRET_KEY_FILE: keyFile(dir, "group.key", K1, 0o620) }, "APPGRANT_SECRET_KEY_FILE", /writable by other users/],
  ];
  for (const [env, variable, message] of refusals) {
    const error = configError(() => loadConfig(env, dir));
    t.equal(error?.variable, variable, `${Object.keys(env).join(" + ")} (${message}) is refused, naming ${variable}`);
    t.match(error?.message, message);
    t.notMatch(error?.message ?? "", /short-key-value|1111/, "the message never quotes a key");
  }
});

t.test("a key file others can read is accepted with a warning; the SQLite key file too", async (t) => {
  const dir = scratchDir(t);
  const readable = keyFile(dir, "readable.key", K1, 0o644);
  const config = loadConfig({ APPGRANT_SECRET_KEY_FILE: readable }, dir);
  t.match(keyFileWarning(config), /readable by other users \(mode 0644\).*chmod 600/);
  const tight = keyFile(dir, "tight.key", K1, 0o400);
  t.equal(keyFileWarning(loadConfig({ APPGRANT_SECRET_KEY_FILE: tight }, dir)), undefined);
  t.equal(keyFileWarning(loadConfig({ APPGRANT_SECRET_KEY: K1 }, dir)), undefined, "no file, no warning");
  keyFile(dir, "appgrant.key", K1, 0o644);
  t.match(keyFileWarning(loadConfig({ DATABASE_URL: `file:${join(dir, "appgrant.db")}` }, dir)), /appgrant\.key is readable/);
});

// --- the same database, restarted with a rotated key list ---------------------------

async function appOn(t: Test, databaseUrl: string, keys: string[], clock: TestClock): Promise<FastifyInstance> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    APPGRANT_ADMIN_TOKEN: ADMIN_TOKEN,
    APPGRANT_SECRET_KEY: keys.join(","),
    APPGRANT_WEBHOOK_ALLOW_PRIVATE: "true", // the receiver below is on 127.0.0.1
    LOG_LEVEL: "silent",
  });
  const app = await buildApp({ config, clock, webhooks: { attempts: 1 } });
  t.teardown(() => app.close());
  return app;
}

const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function tokenCall(app: FastifyInstance, form: Record<string, string>) {
  const res = await app.inject({
    method: "POST",
    url: "/oauth/token",
    payload: new URLSearchParams(form).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  return { status: res.statusCode, body: res.json() as Record<string, string> };
}

t.test("a refresh retried across a key rotation gets the same pair; new rotations derive under the new key", async (t) => {
  const databaseUrl = await freshDatabase(t);
  const clock = testClock();
  const before = await appOn(t, databaseUrl, [K1], clock);
  const created = (
    await before.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers: adminHeaders,
      payload: { name: "Rotating", redirect_uris: ["https://app.example/cb"], scopes: ["read"] },
    })
  ).json();
  const client = { client_id: created.client_id as string, client_secret: created.client_secret as string };
  const installation = (
    await before.inject({
      method: "POST",
      url: "/admin/v1/installations",
      headers: adminHeaders,
      payload: { client_id: client.client_id, account: "acme" },
    })
  ).json();
  const first = await tokenCall(before, { grant_type: "authorization_code", code: installation.code, ...client });
  t.equal(first.status, 200);
  const parent = first.body.refresh_token!;
  // Rotated under K1; the client never saw this answer.
  const lost = await tokenCall(before, { grant_type: "refresh_token", refresh_token: parent, ...client });
  t.equal(lost.status, 200);
  const lostId = credentialSelector("refreshToken", lost.body.refresh_token!)!;
  t.equal(lost.body.refresh_token, successorTokens(K1, parent, lostId).refreshToken, "derived under the only key");
  await before.close();

  clock.advance(10); // within the 60 s grace period
  const after = await appOn(t, databaseUrl, [K2, K1], clock);
  const retry = await tokenCall(after, { grant_type: "refresh_token", refresh_token: parent, ...client });
  t.equal(retry.status, 200, "the retry after the rotation is recognised");
  t.equal(retry.body.refresh_token, lost.body.refresh_token, "…and answered with the same refresh token");
  t.equal(retry.body.access_token, lost.body.access_token, "…and the same access token");

  const next = await tokenCall(after, { grant_type: "refresh_token", refresh_token: retry.body.refresh_token!, ...client });
  t.equal(next.status, 200);
  const nextId = credentialSelector("refreshToken", next.body.refresh_token!)!;
  t.equal(
    next.body.refresh_token,
    successorTokens(K2, retry.body.refresh_token!, nextId).refreshToken,
    "a new rotation derives under the new first key",
  );
  t.equal(sha256(next.body.access_token!).length, 64);
});

t.test("without the old key, a retry of a rotation made under it counts as reuse (why the old key stays a while)", async (t) => {
  const databaseUrl = await freshDatabase(t);
  const clock = testClock();
  const before = await appOn(t, databaseUrl, [K1], clock);
  const created = (
    await before.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers: adminHeaders,
      payload: { name: "Dropped", redirect_uris: ["https://app.example/cb"], scopes: ["read"] },
    })
  ).json();
  const client = { client_id: created.client_id as string, client_secret: created.client_secret as string };
  const installation = (
    await before.inject({
      method: "POST",
      url: "/admin/v1/installations",
      headers: adminHeaders,
      payload: { client_id: client.client_id, account: "acme" },
    })
  ).json();
  const parent = (await tokenCall(before, { grant_type: "authorization_code", code: installation.code, ...client })).body.refresh_token!;
  t.equal((await tokenCall(before, { grant_type: "refresh_token", refresh_token: parent, ...client })).status, 200);
  await before.close();

  const after = await appOn(t, databaseUrl, [K2], clock);
  const retry = await tokenCall(after, { grant_type: "refresh_token", refresh_token: parent, ...client });
  t.same(retry, { status: 400, body: { error: "invalid_grant", error_description: "refresh token has already been used" } });
});

t.test("a webhook secret stored before a key rotation still signs deliveries after it", async (t) => {
  const received: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const databaseUrl = await freshDatabase(t);
  const clock = testClock();
  const before = await appOn(t, databaseUrl, [K1], clock);
  const created = (
    await before.inject({
      method: "POST",
      url: "/admin/v1/applications",
      headers: adminHeaders,
      payload: { name: "Hooked", redirect_uris: ["https://app.example/cb"], scopes: ["read"], webhook_url: webhookUrl },
    })
  ).json();
  await before.close();

  const after = await appOn(t, databaseUrl, [K2, K1], clock);
  const installed = await after.inject({
    method: "POST",
    url: "/admin/v1/installations",
    headers: adminHeaders,
    payload: { client_id: created.client_id, account: "acme" },
  });
  t.equal(installed.statusCode, 201);
  const deadline = Date.now() + 15_000;
  while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(received.length, 1, "delivered");
  const delivery = received[0]!;
  t.ok(
    new Webhook(created.webhook_secret).verify(delivery.body, delivery.headers as Record<string, string>),
    "signed with the secret issued before the rotation (Standard Webhooks verification)",
  );
});

t.test("re-encryption moves secrets to the first key, in batches, idempotently, never over a newer secret", async (t) => {
  const old = await buildTestApp(t, { APPGRANT_SECRET_KEY: K1 });
  const secrets = new Map<string, string>();
  for (let i = 0; i < 5; i++) {
    const res = await old.admin("POST", "/admin/v1/applications", {
      name: `App ${i}`,
      redirect_uris: ["https://app.example/cb"],
      scopes: ["read"],
      client_type: "public",
    });
    secrets.set(res.json().id, res.json().webhook_secret);
  }
  const rotated = { ...old.app.domain, secretKey: new ServerKeys([K2, K1]) };
  const stored = async () =>
    new Map(
      (await old.app.domain.db.application.findMany({ select: { id: true, webhookSecretEncrypted: true } })).map((row) => [
        row.id,
        row.webhookSecretEncrypted!,
      ]),
    );

  t.same(await reencryptWebhookSecrets(rotated, 2), { scanned: 5, reencrypted: 5, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: [] });
  for (const [id, sealed] of await stored()) {
    t.equal(decrypt(new ServerKeys([K2]), WEBHOOK_SECRET_PURPOSE, sealed), secrets.get(id), "opens with the new key alone, same secret");
  }
  t.same(
    await reencryptWebhookSecrets(rotated, 2),
    { scanned: 5, reencrypted: 0, alreadyCurrent: 5, changedMeanwhile: 0, unreadable: [] },
    "a second run changes nothing",
  );

  // One secret under a key nobody has any more; one secret replaced while the command runs.
  const [lostId, racedId] = [...secrets.keys()] as [string, string];
  await old.app.domain.db.application.update({
    where: { id: lostId },
    data: { webhookSecretEncrypted: encrypt(new ServerKeys([K0]), WEBHOOK_SECRET_PURPOSE, "agw_lost") },
  });
  const newer = encrypt(new ServerKeys([K2]), WEBHOOK_SECRET_PURPOSE, "agw_newer");
  const racing = {
    ...rotated,
    secretKey: new ServerKeys([K1, K2]), // K1 first again: everything is due for re-encryption
    transaction: async <T>(fn: Parameters<typeof rotated.transaction>[0]): Promise<T> => {
      await old.app.domain.db.application.update({ where: { id: racedId }, data: { webhookSecretEncrypted: newer } });
      return rotated.transaction(fn) as Promise<T>;
    },
  };
  const result = await reencryptWebhookSecrets(racing, 100);
  t.same(result, { scanned: 5, reencrypted: 3, alreadyCurrent: 0, changedMeanwhile: 1, unreadable: [lostId] });
  t.equal((await stored()).get(racedId), newer, "the secret replaced meanwhile was not overwritten");
});

t.test("re-encryption also moves the previous webhook secret of a rotation still in its overlap", async (t) => {
  const old = await buildTestApp(t, { APPGRANT_SECRET_KEY: K1 });
  const created = await old.admin("POST", "/admin/v1/applications", {
    name: "Rotating",
    redirect_uris: ["https://app.example/cb"],
    scopes: ["read"],
    client_type: "public",
  });
  const { id, webhook_secret: first } = created.json() as { id: string; webhook_secret: string };
  const rotatedRes = await old.admin("POST", `/admin/v1/applications/${id}/webhook-secret`);
  t.equal(rotatedRes.statusCode, 201);
  const { webhook_secret: second } = rotatedRes.json() as { webhook_secret: string };

  const rotated = { ...old.app.domain, secretKey: new ServerKeys([K2, K1]) };
  t.same(await reencryptWebhookSecrets(rotated), { scanned: 2, reencrypted: 2, alreadyCurrent: 0, changedMeanwhile: 0, unreadable: [] });
  const row = await old.app.domain.db.application.findUniqueOrThrow({ where: { id } });
  const newKeyOnly = new ServerKeys([K2]);
  t.equal(decrypt(newKeyOnly, WEBHOOK_SECRET_PURPOSE, row.webhookSecretEncrypted!), second, "the current secret opens with the new key alone");
  t.equal(decrypt(newKeyOnly, WEBHOOK_SECRET_PURPOSE, row.webhookSecretPreviousEncrypted!), first, "so does the previous one, still signing");
  t.same(
    await reencryptWebhookSecrets(rotated),
    { scanned: 2, reencrypted: 0, alreadyCurrent: 2, changedMeanwhile: 0, unreadable: [] },
    "a second run changes nothing",
  );
});
