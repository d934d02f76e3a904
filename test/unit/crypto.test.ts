import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import t from "tap";
import { SecretHasher } from "../../src/crypto/secret-hasher.js";
import { newId } from "../../src/shared/ids.js";
import {
  type CredentialKind,
  credentialSelector,
  formatCredential,
  generateClientId,
  generateCredential,
  hashesEqual,
  isWellFormed,
  PREFIXES,
  safeEqual,
  safeEqualTo,
  sha256,
} from "../../src/crypto/tokens.js";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KINDS = Object.keys(PREFIXES) as CredentialKind[];

t.test("generated credentials have their kind's prefix, 49 base62 characters and a valid checksum", async (t) => {
  for (const kind of KINDS) {
    const value = generateCredential(kind);
    t.match(value, new RegExp(`^${PREFIXES[kind]}[0-9A-Za-z]{49}$`), kind);
    t.ok(isWellFormed(kind, value), `${kind} is well formed`);
    for (const other of KINDS.filter((k) => k !== kind)) t.notOk(isWellFormed(other, value), `${kind} is not a well-formed ${other}`);
  }
});

t.test("any one-character change fails the checksum", async (t) => {
  for (const kind of KINDS) {
    const value = generateCredential(kind);
    const prefixLength = PREFIXES[kind].length;
    let refused = 0;
    for (let i = prefixLength; i < value.length; i++) {
      const replacement = ALPHABET[(ALPHABET.indexOf(value[i]!) + 1 + (i % 61)) % 62]!;
      const changed = value.slice(0, i) + replacement + value.slice(i + 1);
      t.not(changed, value);
      if (!isWellFormed(kind, changed)) refused++;
      else t.fail(`${kind}: changing position ${i} went unnoticed`);
    }
    t.equal(refused, value.length - prefixLength, `${kind}: every changed position is refused`);
  }
});

t.test("refuses values of the wrong shape", async (t) => {
  const value = generateCredential("code");
  const cases: [string, string][] = [
    ["empty", ""],
    ["prefix only", "agc_"],
    ["one character short", value.slice(0, -1)],
    ["one character long", `${value}0`],
    ["another prefix", `ags_${value.slice(4)}`],
    ["upper-case prefix", `AGC_${value.slice(4)}`],
    ["a non-base62 character", `${value.slice(0, 10)}-${value.slice(11)}`],
    ["surrounding whitespace", ` ${value.slice(1)}`],
  ];
  for (const [name, candidate] of cases) t.notOk(isWellFormed("code", candidate), name);
});

/** The encoding credentials have always had: the material as one big-endian number, in base62 (BigInt, slow and plain). */
function reference(kind: CredentialKind, material: Uint8Array): string {
  const digits = (bytes: Uint8Array, length: number) => {
    let n = 0n;
    for (const byte of bytes) n = (n << 8n) | BigInt(byte);
    let out = "";
    for (let i = 0; i < length; i++) {
      out = ALPHABET[Number(n % 62n)] + out;
      n /= 62n;
    }
    return out;
  };
  const head = PREFIXES[kind] + digits(material, 43);
  const sum = crc32(head) >>> 0;
  return head + digits(new Uint8Array([sum >>> 24, (sum >>> 16) & 255, (sum >>> 8) & 255, sum & 255]), 6);
}

t.test("credentials encode their material exactly as they always have (issued and derived ones stay valid)", async (t) => {
  const edges = [new Uint8Array(32), new Uint8Array(32).fill(255), Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0))];
  for (const material of edges) t.equal(formatCredential("refreshToken", material), reference("refreshToken", material));
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...KINDS), (material, kind) => {
      return formatCredential(kind, material) === reference(kind, material);
    }),
    { numRuns: 2000 },
  );
});

t.test("the same key material gives the same credential, and only 32 bytes are accepted", async (t) => {
  const material = randomBytes(32);
  t.equal(formatCredential("refreshToken", material), formatCredential("refreshToken", Buffer.from(material)));
  t.ok(isWellFormed("refreshToken", formatCredential("refreshToken", material)));
  t.not(formatCredential("refreshToken", material), formatCredential("refreshToken", randomBytes(32)));
  t.equal(formatCredential("code", new Uint8Array(32)), `agc_${"0".repeat(43)}${formatCredential("code", new Uint8Array(32)).slice(-6)}`);
  for (const length of [0, 16, 31, 33, 64]) t.throws(() => formatCredential("code", new Uint8Array(length)), `${length} bytes`);
});

t.test("credentials and client ids are unique across 1000 generations", async (t) => {
  for (const kind of KINDS) {
    const values = new Set(Array.from({ length: 1000 }, () => generateCredential(kind)));
    t.equal(values.size, 1000, kind);
  }
  const ids = Array.from({ length: 1000 }, generateClientId);
  t.equal(new Set(ids).size, 1000, "client ids");
  for (const id of ids) if (!/^[0-9A-Za-z]{20}$/.test(id)) t.fail(`client id ${id} is not 20 base62 characters`);
});

t.test("sha256 is the hex SHA-256 of the value", async (t) => {
  t.equal(sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  t.equal(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

t.test("safeEqual is string equality", async (t) => {
  const cases: [string, string, boolean][] = [
    ["same", "same", true],
    ["", "", true],
    ["ünïcödé", "ünïcödé", true],
    ["same", "Same", false],
    ["same", "same ", false],
    ["same", "sam", false],
    ["", "x", false],
    ["abc", "abd", false],
    ["a".repeat(1000), `${"a".repeat(999)}b`, false],
  ];
  for (const [a, b, expected] of cases) {
    t.equal(safeEqual(a, b), expected, `${JSON.stringify(a.slice(0, 10))} vs ${JSON.stringify(b.slice(0, 10))}`);
    t.equal(safeEqual(b, a), expected, "symmetric");
    t.equal(safeEqualTo(a)(b), expected, "safeEqualTo, its digest computed once, agrees");
  }
});

t.test("SecretHasher verifies the right secret and refuses a wrong one", async (t) => {
  const hasher = new SecretHasher();
  const secret = generateCredential("clientSecret");
  const hash = await hasher.hash(secret);
  t.match(hash, /^\$argon2id\$/);
  t.notMatch(hash, secret);
  t.equal(await hasher.verify(hash, `${secret}x`), false, "wrong secret before any success");
  t.equal(await hasher.verify(hash, secret), true, "right secret");
  t.equal(await hasher.verify("not a PHC string", secret), false, "a malformed stored hash authenticates nobody");
});

t.test("SecretHasher stays correct after a remembered success", async (t) => {
  const hasher = new SecretHasher();
  const secret = generateCredential("clientSecret");
  const other = generateCredential("clientSecret");
  const hash = await hasher.hash(secret);
  const sameSecretAgain = await hasher.hash(secret);
  const otherHash = await hasher.hash(other);
  t.not(hash, sameSecretAgain, "salted: the same secret hashes differently");

  t.equal(await hasher.verify(hash, secret), true, "first success (now remembered)");
  t.equal(await hasher.verify(hash, secret), true, "remembered success");
  t.equal(await hasher.verify(hash, other), false, "a wrong secret still fails against the remembered hash");
  t.equal(await hasher.verify(hash, ""), false, "so does an empty one");
  t.equal(await hasher.verify(otherHash, secret), false, "the remembered secret does not open another hash");

  // Same salt and parameters, another digest: a different stored hash that the secret does not match.
  const parts = hash.split("$");
  const digest = parts[parts.length - 1]!;
  parts[parts.length - 1] = (digest[0] === "A" ? "B" : "A") + digest.slice(1);
  const tampered = parts.join("$");
  t.not(tampered, hash);
  t.equal(await hasher.verify(tampered, secret), false, "a different stored hash needs its own, real verification");

  t.equal(await hasher.verify(sameSecretAgain, secret), true, "another hash of the same secret verifies on its own");
  t.equal(await hasher.verify(sameSecretAgain, other), false, "and refuses a wrong secret");

  const fresh = new SecretHasher();
  t.equal(await fresh.verify(hash, other), false, "another process's hasher remembers nothing");
  t.equal(await fresh.verify(hash, secret), true);
});

t.test("SecretHasher forgets the oldest success beyond its capacity and stays correct", async (t) => {
  const hasher = new SecretHasher(1);
  const [a, b] = [generateCredential("clientSecret"), generateCredential("clientSecret")];
  const [hashA, hashB] = [await hasher.hash(a), await hasher.hash(b)];
  t.equal(await hasher.verify(hashA, a), true);
  t.equal(await hasher.verify(hashB, b), true, "evicts A");
  t.equal(await hasher.verify(hashA, a), true, "A verifies again the slow way");
  t.equal(await hasher.verify(hashA, b), false);
  t.equal(await hasher.verify(hashB, a), false);
});

t.test("concurrent verifications of one secret share one budget check and one argon2 run", async (t) => {
  const hasher = new SecretHasher();
  const secret = generateCredential("clientSecret");
  const stored = await hasher.hash(secret);
  let checks = 0;
  const before = async () => {
    checks++;
  };
  const results = await Promise.all(Array.from({ length: 20 }, () => hasher.verifyAny([stored], secret, before)));
  t.same(results, Array(20).fill(true));
  t.equal(checks, 1, "a burst of the right secret is one attempt, not twenty");
  t.ok(await hasher.verifyAny([stored], secret, before));
  t.equal(checks, 1, "a remembered verification needs no check at all");

  const wrong = generateCredential("clientSecret");
  const refused = await Promise.all(Array.from({ length: 5 }, () => hasher.verifyAny([stored], wrong, before)));
  t.same(refused, Array(5).fill(false));
  t.equal(checks, 2, "concurrent identical guesses are one attempt too");
  t.notOk(await hasher.verifyAny([stored], wrong, before));
  t.equal(checks, 3, "a guess repeated later is counted again");

  const refusing = async () => {
    throw new Error("over the limit");
  };
  const other = generateCredential("clientSecret");
  const outcomes = await Promise.allSettled([hasher.verifyAny([stored], other, refusing), hasher.verifyAny([stored], other, refusing)]);
  t.same(
    outcomes.map((outcome) => outcome.status),
    ["rejected", "rejected"],
    "a refused check refuses every request that shared it",
  );
});

t.test("a token's selector: its row's id, 22 base62 digits after the prefix, read back exactly", async (t) => {
  const edges = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "01890a5d-ac96-774b-bcce-b302099a8057"];
  for (const id of [...edges, ...Array.from({ length: 200 }, () => newId())]) {
    for (const kind of ["accessToken", "installationToken", "refreshToken"] as const) {
      const token = generateCredential(kind, id);
      t.equal(token.length, PREFIXES[kind].length + 22 + 43 + 6);
      if (!isWellFormed(kind, token)) t.fail(`${kind} with selector ${id} is not well formed`);
      if (credentialSelector(kind, token) !== id) t.fail(`${kind}: selector ${id} read back as ${credentialSelector(kind, token)}`);
    }
  }
  const id = newId();
  const token = generateCredential("refreshToken", id);
  t.equal(credentialSelector("refreshToken", generateCredential("refreshToken")), null, "a token without a selector has none");
  t.notOk(isWellFormed("refreshToken", token.slice(0, 10) + (token[10] === "0" ? "1" : "0") + token.slice(11)), "the checksum covers the selector");
  t.equal(credentialSelector("refreshToken", `agr_${"z".repeat(22)}${token.slice(26)}`), null, "22 digits above 128 bits are no selector");
  t.throws(() => generateCredential("refreshToken", "not-a-uuid"), "a selector must be a UUID");
  t.not(generateCredential("refreshToken", id), token, "the secret part is random");
});

t.test("hashesEqual compares two SHA-256 hex digests, and nothing else", async (t) => {
  const hash = sha256("x");
  t.ok(hashesEqual(hash, sha256("x")));
  t.notOk(hashesEqual(hash, sha256("y")));
  t.notOk(hashesEqual(null, hash), "no stored hash (an access token alone has no refresh token)");
  t.notOk(hashesEqual(hash.slice(1), hash.slice(1)), "not a digest");
});
