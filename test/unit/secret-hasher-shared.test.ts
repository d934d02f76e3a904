// Verifications shared between processes (through Redis in production, a Map here):
// a process recognises a secret another one verified, never a wrong one, never one
// whose stored hash is gone, and nothing shared can be forged without the server key.
import { randomBytes } from "node:crypto";
import t from "tap";
import { SecretHasher, type SharedVerifications } from "../../src/crypto/secret-hasher.js";
import { generateCredential } from "../../src/crypto/tokens.js";

function sharedMap(): SharedVerifications & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return { entries, get: async (name) => entries.get(name), set: async (name, value) => void entries.set(name, value) };
}

t.test("a secret verified by one process is recognised by another without argon2", async (t) => {
  const memory = sharedMap();
  const key = randomBytes(32);
  const first = new SecretHasher();
  const second = new SecretHasher();
  first.share(memory, key);
  second.share(memory, key);
  const secret = generateCredential("clientSecret");
  const stored = await first.hash(secret);
  t.notOk(await second.recognises([stored], secret), "nothing to recognise before a verification");
  t.ok(await first.verify(stored, secret));
  t.ok(await second.recognises([stored], secret), "recognised after another process verified it");
  t.notOk(await second.recognises([stored], generateCredential("clientSecret")), "a wrong secret is not");
  const recreated = await first.hash(secret);
  t.notOk(await second.recognises([recreated], secret), "nor the same secret under another stored hash (deleted, re-created)");
  t.notOk(
    [...memory.entries.values()].some((value) => value.includes(secret)),
    "the secret itself is not shared",
  );
  t.notOk(
    [...memory.entries.keys()].some((name) => name.includes(stored) || stored.includes(name)),
    "nor the stored hash",
  );
});

t.test("an entry written without the server key authenticates nobody", async (t) => {
  const memory = sharedMap();
  const secret = generateCredential("clientSecret");
  const writer = new SecretHasher();
  writer.share(memory, randomBytes(32));
  const stored = await writer.hash(secret);
  await writer.verify(stored, secret);
  const reader = new SecretHasher();
  reader.share(memory, randomBytes(32)); // another key: as an attacker writing into Redis would have
  t.notOk(await reader.recognises([stored], secret));
});

t.test("an unavailable shared memory is a miss, not an error", async (t) => {
  const hasher = new SecretHasher();
  hasher.share({ get: async () => undefined, set: async () => undefined }, randomBytes(32));
  const secret = generateCredential("clientSecret");
  const stored = await hasher.hash(secret);
  t.notOk(await hasher.recognises([stored], secret));
  t.ok(await hasher.verify(stored, secret));
  t.ok(await hasher.recognises([stored], secret), "then remembered in the process");
});
