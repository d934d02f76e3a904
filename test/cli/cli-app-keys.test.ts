// `appgrant apps add-key|keys|delete-key`: application keys through the CLI as a child
// process. A generated private key is printed once and stored nowhere; a JWK file
// registers the application's own public key; refusals exit 1 and store nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, jwtVerify, SignJWT } from "jose";
import t from "tap";
import { cliOnFreshDir, createArgs, databaseBytes, field, json } from "../support/cli-helper.js";

const PEM = /-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----/;

function tempFiles(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), "appgrant-jwk-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };
}

t.test("apps add-key generates a key pair and prints its private key once; keys lists it; delete-key removes it", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));

  const added = await cli("apps", "add-key", app.client_id);
  t.equal(added.code, 0, added.stderr);
  const pem = added.stdout.match(PEM)?.[0];
  t.ok(pem, "the private key, PKCS#8 PEM");
  t.match(added.stdout, /Store the private key now: shown only this once/);
  const keyId = field(added.stdout, "id")!;
  const kid = field(added.stdout, "kid")!;
  t.equal(field(added.stdout, "alg"), "ES256");

  const scripted = await cli("apps", "add-key", app.id, "--json");
  const second = json(scripted);
  t.match(second.private_key, PEM, "--json carries the private key");
  t.match(scripted.stderr, /shown only this once/, "the warning goes to stderr, keeping stdout JSON");

  const [listedJson, listedHuman] = await Promise.all([cli("apps", "keys", app.id, "--json"), cli("apps", "keys", app.client_id)]);
  const listed = json(listedJson);
  t.same(
    listed.items.map((key: { id: string }) => key.id),
    [keyId, second.id],
    "oldest first",
  );
  const [first] = listed.items;
  t.equal(first.kid, kid);
  t.equal(kid, await calculateJwkThumbprint(first.public_jwk, "sha256"), "kid is the RFC 7638 thumbprint");
  t.match(listedHuman.stdout, /^ID\s+KID\s+ALG\s+CREATED_AT/);
  t.match(listedHuman.stdout, new RegExp(`${keyId}\\s+${kid}\\s+ES256`));
  for (const output of [listedJson.stdout, listedHuman.stdout]) t.notMatch(output, /PRIVATE KEY|"d"/, "never the private key again");

  const jwt = await new SignJWT({ iss: app.client_id }).setProtectedHeader({ alg: "ES256", kid }).sign(await importPKCS8(pem!, "ES256"));
  const { protectedHeader } = await jwtVerify(jwt, await importJWK(first.public_jwk, first.alg));
  t.equal(protectedHeader.kid, kid, "the printed private key signs what the stored public key verifies");

  const stored = databaseBytes(dbFile);
  const d = (await exportJWK(await importPKCS8(pem!, "ES256", { extractable: true }))).d!;
  t.notOk(stored.includes(d), "the private key is not stored");
  t.notOk(stored.includes(pem!.split("\n")[2]!), "nor its PEM");

  const events = json(await cli("events", "list", "--type", "application.key_added", "--json"));
  t.same(
    events.items.map((event: { actor: unknown; data: unknown }) => [event.actor, event.data]),
    [
      [
        { type: "cli", id: null },
        { key_id: second.id, kid: second.kid, alg: "ES256", generated: true },
      ],
      [
        { type: "cli", id: null },
        { key_id: keyId, kid, alg: "ES256", generated: true },
      ],
    ],
    "recorded as the CLI's, without the private key",
  );

  const deleted = await cli("apps", "delete-key", app.client_id, keyId);
  t.equal(deleted.code, 0, deleted.stderr);
  t.match(deleted.stdout, new RegExp(`Deleted key ${keyId} of application ${app.id}`));
  t.same(json(await cli("apps", "delete-key", app.id, second.id, "--json")), { id: second.id, deleted: true });
  const [again, empty] = await Promise.all([cli("apps", "delete-key", app.id, keyId), cli("apps", "keys", app.id)]);
  t.equal(again.code, 1, "gone: deleting it again is not found");
  t.match(again.stderr, /key not found/);
  t.equal(empty.stdout.trim(), "No keys.");
  const deletions = json(await cli("events", "list", "--type", "application.key_deleted", "--json"));
  t.equal(deletions.items.length, 2, "each deletion recorded");
});

t.test("apps add-key --jwk-file registers a public JWK; private keys, bad files and unknown apps are refused", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const file = tempFiles(t);
  const app = json(await cli(...createArgs, "--json"));
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: "mine" };
  const ec = await generateKeyPair("ES256", { extractable: true });

  const registered = await cli("apps", "add-key", app.id, "--jwk-file", file("rsa.json", publicJwk));
  t.equal(registered.code, 0, registered.stderr);
  t.equal(field(registered.stdout, "alg"), "RS256");
  t.equal(field(registered.stdout, "kid"), await calculateJwkThumbprint(publicJwk, "sha256"), "the thumbprint, not the file's kid");
  t.notMatch(registered.stdout + registered.stderr, /PRIVATE KEY|shown only this once/, "nothing secret to show");

  const refusals: [name: string, args: string[], code: number, message: RegExp][] = [
    ["a private JWK", ["--jwk-file", file("private.json", await exportJWK(ec.privateKey))], 1, /private key material \("d"\)/],
    ["the same key again", ["--jwk-file", file("again.json", { ...publicJwk, kid: "other" })], 1, /already has this key/],
    ["a file that is not JSON", ["--jwk-file", file("broken.json", "{kty")], 1, /is not JSON/],
    ["a JWK Set", ["--jwk-file", file("set.json", { keys: [publicJwk] })], 1, /holds a JWK Set/],
    ["a missing file", ["--jwk-file", join(tmpdir(), "appgrant-no-such-dir", "k.json")], 1, /cannot read .*ENOENT/],
  ];
  const results = await Promise.all(refusals.map(([, args]) => cli("apps", "add-key", app.id, ...args)));
  for (const [index, [name, , code, message]] of refusals.entries()) {
    t.equal(results[index]!.code, code, `${name}: exit ${code}`);
    t.match(results[index]!.stderr, message, `${name}: ${results[index]!.stderr.trim()}`);
  }
  const [unknown, missing, unknownKeys] = await Promise.all([
    cli("apps", "add-key", "no-such-app"),
    cli("apps", "add-key"),
    cli("apps", "keys", "nope"),
  ]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /application not found/);
  t.equal(missing.code, 2, "a usage error");
  t.match(missing.stderr, /missing <app>/);
  t.equal(unknownKeys.code, 1);
  t.same(
    json(await cli("apps", "keys", app.id, "--json")).items.map((key: { alg: string }) => key.alg),
    ["RS256"],
    "only the registered key is stored",
  );
});
