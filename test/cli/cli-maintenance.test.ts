// `appgrant purge` and `appgrant apps rotate-webhook-secret`.
import t from "tap";
import { decrypt } from "../../src/crypto/encryption.js";
import { ServerKeys } from "../../src/crypto/server-keys.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../src/domain/applications.js";
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cliOnFreshDir, createArgs, json } from "../support/cli-helper.js";

t.test("purge removes expired codes and reports what it removed", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  json(await cli("installs", "create", "--client-id", app.client_id, "--account", "acme", "--json"));
  t.same(
    json(await cli("purge", "--json")),
    {
      codes: 0,
      authorization_requests: 0,
      tokens: 0,
      client_assertions: 0,
      device_authorizations: 0,
      webhook_codes: 0,
      events: 0,
      webhook_deliveries: 0,
    },
    "a live code stays",
  );

  // Age the code past its expiry directly in the file, as time would.
  const db = new Database(dbFile);
  db.prepare(`UPDATE "Grant" SET "expiresAt" = '2000-01-01T00:00:00.000+00:00'`).run();
  db.close();
  t.same(json(await cli("purge", "--json", "--batch-size", "1")), {
    codes: 1,
    authorization_requests: 0,
    tokens: 0,
    client_assertions: 0,
    device_authorizations: 0,
    webhook_codes: 0,
    events: 0,
    webhook_deliveries: 0,
  });
  const human = await cli("purge");
  t.match(human.stdout, /Purged 0 expired code\(s\)/);
  const bad = await cli("purge", "--batch-size", "0");
  t.equal(bad.code, 2);
});

t.test("rotate-webhook-secret prints a new secret once; the server key opens what is stored", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const rotated = await cli("apps", "rotate-webhook-secret", app.id, "--json");
  const { webhook_secret: secret } = json(rotated);
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  t.not(secret, app.webhook_secret);
  const key = readFileSync(join(dirname(dbFile), "appgrant.key"), "utf8").trim();
  const db = new Database(dbFile, { readonly: true });
  const row = db.prepare(`SELECT "webhookSecretEncrypted" FROM "Application"`).get() as { webhookSecretEncrypted: string };
  db.close();
  t.notMatch(row.webhookSecretEncrypted, secret, "not stored in plaintext");
  t.equal(decrypt(new ServerKeys([key]), WEBHOOK_SECRET_PURPOSE, row.webhookSecretEncrypted), secret);
  t.notMatch((await cli("apps", "show", app.id)).stdout, secret, "never shown again");
  t.equal((await cli("apps", "rotate-webhook-secret", "missing-id")).code, 1);
});
