// `appgrant keys reencrypt`: after a server-key rotation, moves the stored webhook
// secrets to the first key, reporting counts; safe to run again; exit 1 (naming the
// applications) when a secret opens with no configured key.
import Database from "better-sqlite3";
import t from "tap";
import { decrypt, encrypt } from "../../src/crypto/encryption.js";
import { ServerKeys } from "../../src/crypto/server-keys.js";
import { WEBHOOK_SECRET_PURPOSE } from "../../src/domain/applications.js";
import { cliOnFreshDir, json } from "../support/cli-helper.js";

const K0 = "a0".repeat(32);
const K1 = "b1".repeat(32);
const K2 = "c2".repeat(32);

t.test("keys reencrypt re-seals every webhook secret under the first key, in batches, and reports counts", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const created: { id: string; webhook_secret: string }[] = [];
  for (const name of ["One", "Two"]) {
    const args = ["apps", "create", "--name", name, "--redirect-uri", "https://bot.example/cb", "--scope", "read", "--public", "--json"];
    created.push(json(await cli.env({ APPGRANT_SECRET_KEY: K1 }, ...args)));
  }
  const sealed = () => {
    const db = new Database(dbFile, { readonly: true });
    const rows = db.prepare(`SELECT "id", "webhookSecretEncrypted" FROM "Application" ORDER BY "id"`).all() as {
      id: string;
      webhookSecretEncrypted: string;
    }[];
    db.close();
    return rows;
  };

  const rotated = { APPGRANT_SECRET_KEY: `${K2},${K1}` };
  const first = await cli.env(rotated, "keys", "reencrypt", "--batch-size", "1", "--json");
  t.equal(first.code, 0, first.stderr);
  t.same(JSON.parse(first.stdout), { scanned: 2, reencrypted: 2, already_current: 0, changed_meanwhile: 0, unreadable: [] });
  for (const row of sealed()) {
    const app = created.find((c) => c.id === row.id)!;
    t.equal(decrypt(new ServerKeys([K2]), WEBHOOK_SECRET_PURPOSE, row.webhookSecretEncrypted), app.webhook_secret, "the new key alone opens it");
  }

  const again = await cli.env(rotated, "keys", "reencrypt");
  t.equal(again.code, 0);
  t.match(again.stdout, /2 scanned, 0 re-encrypted under the first key, 2 already under it, 0 changed meanwhile \(left as they are\), 0 unreadable/);

  // A secret sealed under a key that is no longer configured.
  const db = new Database(dbFile);
  db.prepare(`UPDATE "Application" SET "webhookSecretEncrypted" = ? WHERE "id" = ?`).run(
    encrypt(new ServerKeys([K0]), WEBHOOK_SECRET_PURPOSE, "agw_orphan"),
    created[1]!.id,
  );
  db.close();
  const partial = await cli.env(rotated, "keys", "reencrypt", "--json");
  t.equal(partial.code, 1, "exit 1 while a secret opens with no configured key");
  t.same(JSON.parse(partial.stdout).unreadable, [created[1]!.id]);
  t.match(partial.stderr, new RegExp(`${created[1]!.id}.*rotate-webhook-secret`, "s"), "names the application and the way out");
  t.notMatch(partial.stderr + partial.stdout, /agw_|(a0){8}|(b1){8}|(c2){8}/, "no secret and no key (nor 16 characters of one) in the output");

  const usage = await cli.env(rotated, "keys", "reencrypt", "--batch-size", "0");
  t.equal(usage.code, 2, "a bad batch size is a usage error");
  t.match(usage.stderr, /Usage: appgrant keys reencrypt \[--batch-size N\]/);
});
