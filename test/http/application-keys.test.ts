// Application keys through the admin API: a generated key pair's private key is shown once
// and stored nowhere; the application's own public keys (RSA ≥ 2048, P-256, Ed25519) are
// registered in the form the token endpoint imports; everything else is refused with 400
// and leaves nothing behind; at most ten keys, each once; every change has its event.
import { generateKeyPairSync } from "node:crypto";
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, importPKCS8, type JWK, jwtVerify, SignJWT } from "jose";
import t, { type Test } from "tap";
import { deleteKey, generateKey, MAX_KEYS_PER_APPLICATION, registerKey } from "../../src/domain/application-keys.js";
import type { DomainContext } from "../../src/domain/context.js";
import { ADMIN_TOKEN, buildTestApp, createApp, type TestApp } from "../support/helper.js";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

const keysUrl = (appId: string) => `/admin/v1/applications/${appId}/keys`;

/** The stored rows of `appId`, as the token endpoint reads them. */
const storedKeys = (test: TestApp, applicationId: string) =>
  test.app.domain.db.applicationKey.findMany({ where: { applicationId }, orderBy: { id: "asc" } });

/** What the token endpoint does with a row: import its public JWK for its one algorithm, and verify a JWT with it. */
async function verifiesWithRow(row: { publicJwk: string; alg: string }, jwt: string) {
  const key = await importJWK(JSON.parse(row.publicJwk), row.alg);
  return jwtVerify(jwt, key, { algorithms: [row.alg] });
}

async function signJwt(privateKey: CryptoKey, alg: string, kid: string): Promise<string> {
  return new SignJWT({ iss: "app" }).setProtectedHeader({ alg, kid }).setIssuedAt(1_767_225_600).sign(privateKey);
}

/** A key pair made by jose (the application's side) and its public JWK, with whatever the application adds to it. */
async function appKeyPair(alg: "RS256" | "PS256" | "ES256" | "EdDSA", extra: Record<string, unknown> = {}) {
  const pair = await generateKeyPair(alg, { extractable: true });
  return { ...pair, jwk: { ...(await exportJWK(pair.publicKey)), ...extra } as JWK };
}

/** Everything appgrant keeps about keys, events and webhooks, and everything it logged. */
async function everythingStored(test: TestApp): Promise<string> {
  const db = test.app.domain.db;
  return JSON.stringify([
    await db.applicationKey.findMany(),
    await db.event.findMany(),
    await db.webhookDelivery.findMany(),
    await db.application.findMany(),
    test.logs,
  ]);
}

t.test("POST generates an ES256 key pair: the private key, shown once, signs JWTs the stored public key verifies", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { webhook_url: "https://app.example/hook" });
  test.clock.advance(5);
  const res = await test.admin("POST", keysUrl(app.id), {});
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.headers["cache-control"], "no-store", "the answer carries a private key: never cached");
  const body = res.json();
  t.same(Object.keys(body).sort(), ["alg", "created_at", "id", "kid", "private_key", "public_jwk"]);
  t.equal(body.alg, "ES256");
  t.equal(body.created_at, "2026-01-01T00:00:05.000Z");
  t.match(body.private_key, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/, "PKCS#8 PEM");
  t.same(Object.keys(body.public_jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"], "public members only");
  t.match(body.public_jwk, { kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: body.kid });
  t.equal(body.kid, await calculateJwkThumbprint(body.public_jwk, "sha256"), "kid is the RFC 7638 thumbprint");
  t.match(body.kid, /^[A-Za-z0-9_-]{43}$/);

  const [row] = await storedKeys(test, app.id);
  t.ok(row, "one row stored");
  t.match(row, { id: body.id, kid: body.kid, alg: "ES256" });
  t.same(JSON.parse(row!.publicJwk), body.public_jwk, "the row holds the public JWK the answer showed");
  for (const member of PRIVATE_MEMBERS) t.notOk(member in JSON.parse(row!.publicJwk), `no "${member}" stored`);

  const privateKey = await importPKCS8(body.private_key, "ES256", { extractable: true });
  const jwt = await signJwt(privateKey, "ES256", body.kid);
  const verified = await verifiesWithRow(row!, jwt);
  t.equal(verified.protectedHeader.kid, body.kid, "the stored key verifies what the private key signs");
  const other = await appKeyPair("ES256");
  await t.rejects(verifiesWithRow(row!, await signJwt(other.privateKey, "ES256", body.kid)), "and only that");

  // The private key is nowhere: not in the database, the events, the webhook, the logs.
  const d = (await exportJWK(privateKey)).d!;
  const pemBody = body.private_key.replace(/-----[A-Z ]+-----|\n/g, "");
  const stored = await everythingStored(test);
  t.ok(stored.includes(body.kid), "the scan sees the key's rows, events and logs");
  t.notOk(stored.includes(d), "the private scalar is stored and logged nowhere");
  t.notOk(stored.includes(pemBody.slice(-40)), "nor the PEM");
  t.notOk(stored.includes("PRIVATE KEY"));

  const listed = await test.admin("GET", keysUrl(app.id));
  t.equal(listed.statusCode, 200);
  t.same(listed.json(), { items: [{ id: body.id, kid: body.kid, alg: "ES256", public_jwk: body.public_jwk, created_at: body.created_at }] });
  t.notOk(listed.body.includes(d), "never again");
});

t.test("POST generates with {}, with no body, and with an empty JSON body", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const requests = [
    () => test.admin("POST", keysUrl(app.id), {}),
    () => test.admin("POST", keysUrl(app.id)),
    () =>
      test.app.inject({
        method: "POST",
        url: keysUrl(app.id),
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      }),
    () =>
      test.app.inject({
        method: "POST",
        url: keysUrl(app.id),
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json; charset=utf-8" },
        payload: "",
      }),
    () => test.admin("POST", keysUrl(app.id), { jwk: undefined }),
  ];
  for (const [index, request] of requests.entries()) {
    const res = await request();
    t.equal(res.statusCode, 201, `request ${index}: ${res.body}`);
    t.match(res.json().private_key, /^-----BEGIN PRIVATE KEY-----/);
  }
  t.equal((await storedKeys(test, app.id)).length, requests.length, "a key each");

  const form = await test.app.inject({
    method: "POST",
    url: keysUrl(app.id),
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
    payload: "",
  });
  t.equal(form.statusCode, 415, "still JSON only");
  const broken = await test.app.inject({
    method: "POST",
    url: keysUrl(app.id),
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    payload: "{",
  });
  t.match(broken.json(), { statusCode: 400, code: "invalid_request" }, "ill-formed JSON is still refused");
  const other = await test.app.inject({
    method: "POST",
    url: `/admin/v1/applications/${app.id}/webhook-secret`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    payload: "",
  });
  t.equal(other.statusCode, 400, "the empty JSON body is accepted by this route only; the others keep Fastify's rule");
  t.equal((await storedKeys(test, app.id)).length, requests.length, "no key from the refused requests");
});

t.test("POST {jwk} registers the application's own RSA, P-256 and Ed25519 public keys", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const cases = [
    { name: "RSA 2048, RS256 by default", alg: "RS256", pair: await appKeyPair("RS256") },
    { name: "RSA 2048 declaring PS256", alg: "PS256", pair: await appKeyPair("PS256", { alg: "PS256" }) },
    { name: "RSA 2048 declaring RS256", alg: "RS256", pair: await appKeyPair("RS256", { alg: "RS256", use: "sig" }) },
    { name: "EC P-256", alg: "ES256", pair: await appKeyPair("ES256", { alg: "ES256", key_ops: ["verify"] }) },
    { name: "Ed25519", alg: "EdDSA", pair: await appKeyPair("EdDSA", { alg: "EdDSA" }) },
  ] as const;
  for (const { name, alg, pair } of cases) {
    const jwk = { ...pair.jwk, kid: "my-own-kid", x5c: ["not kept"], ext: true };
    const res = await test.admin("POST", keysUrl(app.id), { jwk });
    t.equal(res.statusCode, 201, `${name}: ${res.body}`);
    const body = res.json();
    t.notOk("private_key" in body, `${name}: no private key in the answer (appgrant never had it)`);
    t.equal(body.alg, alg, `${name}: alg ${alg}`);
    t.equal(body.kid, await calculateJwkThumbprint(pair.jwk, "sha256"), `${name}: kid is the thumbprint, the given kid ignored`);
    const publicMembers = pair.jwk.kty === "RSA" ? ["e", "n"] : pair.jwk.kty === "EC" ? ["crv", "x", "y"] : ["crv", "x"];
    t.same(Object.keys(body.public_jwk).sort(), ["alg", "kid", "kty", "use", ...publicMembers].sort(), `${name}: public members only`);
    t.match(body.public_jwk, { kty: pair.jwk.kty, alg, use: "sig", kid: body.kid });

    const row = (await storedKeys(test, app.id)).find((key) => key.id === body.id)!;
    t.same(JSON.parse(row.publicJwk), body.public_jwk, `${name}: stored as shown`);
    const verified = await verifiesWithRow(row, await signJwt(pair.privateKey, alg, body.kid));
    t.equal(verified.protectedHeader.alg, alg, `${name}: the stored key verifies the application's JWTs`);
  }
  t.equal((await storedKeys(test, app.id)).length, cases.length);
});

/** JWKs that must be refused, with what the message must say. */
async function refusals() {
  const ec = await appKeyPair("ES256");
  const rsa = await appKeyPair("RS256");
  const ed = await appKeyPair("EdDSA");
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ format: "jwk" });
  const secp256k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey.export({ format: "jwk" });
  const x25519 = generateKeyPairSync("x25519").publicKey.export({ format: "jwk" });
  const ed448 = generateKeyPairSync("ed448").publicKey.export({ format: "jwk" });
  return [
    { name: "an EC private key", jwk: await exportJWK(ec.privateKey), message: /private key material \("d"\)/ },
    { name: "an RSA private key", jwk: await exportJWK(rsa.privateKey), message: /private key material \("d", "p", "q", "dp", "dq", "qi"\)/ },
    { name: "an Ed25519 private key", jwk: await exportJWK(ed.privateKey), message: /private key material \("d"\)/ },
    { name: "a public key with a stray oth", jwk: { ...rsa.jwk, oth: [] }, message: /private key material \("oth"\)/ },
    { name: "a public key with a stray k", jwk: { ...ec.jwk, k: "AAAA" }, message: /private key material \("k"\)/ },
    { name: "a symmetric key", jwk: { kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ", alg: "HS256" }, message: /symmetric key \(kty oct\)/ },
    { name: "RSA 1024", jwk: rsa1024, message: /1024 bits; at least 2048/ },
    { name: "EC P-384", jwk: p384, message: /curve "P-384" is not accepted/ },
    { name: "EC secp256k1", jwk: secp256k1, message: /curve "secp256k1" is not accepted/ },
    { name: "OKP X25519", jwk: x25519, message: /curve "X25519" is not accepted/ },
    { name: "OKP Ed448", jwk: ed448, message: /curve "Ed448" is not accepted/ },
    { name: "RS256 on an EC key", jwk: { ...ec.jwk, alg: "RS256" }, message: /alg "RS256" does not fit a P-256 key/ },
    { name: "ES256 on an RSA key", jwk: { ...rsa.jwk, alg: "ES256" }, message: /alg "ES256" does not fit an RSA key/ },
    { name: "HS256 on an RSA key", jwk: { ...rsa.jwk, alg: "HS256" }, message: /alg "HS256" does not fit/ },
    { name: "RS512 on an RSA key", jwk: { ...rsa.jwk, alg: "RS512" }, message: /alg "RS512" does not fit/ },
    { name: "none on an Ed25519 key", jwk: { ...ed.jwk, alg: "none" }, message: /alg "none" does not fit an Ed25519 key/ },
    { name: "ES384 on a P-256 key", jwk: { ...ec.jwk, alg: "ES384" }, message: /alg "ES384" does not fit/ },
    { name: "use enc", jwk: { ...ec.jwk, use: "enc" }, message: /use must be "sig"/ },
    { name: "key_ops without verify", jwk: { ...ec.jwk, key_ops: ["encrypt"] }, message: /key_ops/ },
    { name: "an EC point not on the curve", jwk: { ...ec.jwk, y: ec.jwk.x }, message: /not a valid ES256 public key/ },
    { name: "an Ed25519 key of the wrong length", jwk: { ...ed.jwk, x: `${ed.jwk.x}AA` }, message: /not a valid EdDSA public key/ },
    { name: "an RSA key without its modulus", jwk: { kty: "RSA", e: "AQAB" }, message: /not a valid RS256 public key/ },
    { name: "a member of the wrong type", jwk: { ...ec.jwk, x: 5 }, message: /not a valid ES256 public key/ },
    { name: "no kty", jwk: { crv: "P-256", x: ec.jwk.x, y: ec.jwk.y }, message: /kty \(missing\) is not accepted/ },
    { name: "an unknown kty", jwk: { ...ec.jwk, kty: "EC2" }, message: /kty "EC2" is not accepted/ },
  ];
}

t.test("POST {jwk} refuses private, symmetric, weak, mismatched and unreadable keys with 400, storing nothing", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { webhook_url: "https://app.example/hook" });
  const before = { events: await test.app.domain.db.event.count(), deliveries: await test.app.domain.db.webhookDelivery.count() };
  for (const { name, jwk, message } of await refusals()) {
    const res = await test.admin("POST", keysUrl(app.id), { jwk });
    t.equal(res.statusCode, 400, `${name}: 400`);
    t.match(res.json(), { statusCode: 400, code: "invalid_request", error: "Bad Request", message }, `${name}: ${res.json().message}`);
    const d = (jwk as { d?: string }).d;
    if (d) t.notOk(res.body.includes(d), `${name}: the private member is not echoed`);
  }
  for (const [name, body] of [
    ["jwk as a string", { jwk: "eyJrdHkiOiJFQyJ9" }],
    ["jwk null", { jwk: null }],
    ["jwk as an array", { jwk: [] }],
    ["an unknown member", { key: {} }],
    ["a JSON array", []],
  ] as const) {
    const res = await test.admin("POST", keysUrl(app.id), body);
    t.equal(res.statusCode, 400, `${name}: 400 (${res.body})`);
    t.equal(res.json().code, "invalid_request");
  }
  t.same(await storedKeys(test, app.id), [], "no key was stored");
  t.equal(await test.app.domain.db.event.count(), before.events, "no event");
  t.equal(await test.app.domain.db.webhookDelivery.count(), before.deliveries, "no webhook");
});

t.test("an application holds at most ten keys, and each key once", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const other = await createApp(test, { name: "Other" });
  const ed = await appKeyPair("EdDSA");
  t.equal((await test.admin("POST", keysUrl(app.id), { jwk: ed.jwk })).statusCode, 201);

  const again = await test.admin("POST", keysUrl(app.id), { jwk: { ...ed.jwk, kid: "another-name", alg: "EdDSA", use: "sig" } });
  t.equal(again.statusCode, 409, "the same key, however it is dressed, is refused");
  t.match(again.json(), { code: "conflict", message: /already has this key/ });
  const elsewhere = await test.admin("POST", keysUrl(other.id), { jwk: ed.jwk });
  t.equal(elsewhere.statusCode, 201, "another application may hold the same public key");
  t.equal(elsewhere.json().kid, (await storedKeys(test, app.id))[0]!.kid);

  for (let i = 1; i < MAX_KEYS_PER_APPLICATION; i++) t.equal((await test.admin("POST", keysUrl(app.id))).statusCode, 201, `key ${i + 1}`);
  const events = await test.app.domain.db.event.count();
  const generated = await test.admin("POST", keysUrl(app.id), {});
  t.equal(generated.statusCode, 409, "an eleventh generated key is refused");
  t.match(generated.json(), { statusCode: 409, code: "conflict", message: "an application has at most 10 keys; delete one first" });
  t.notOk(generated.body.includes("PRIVATE KEY"));
  const registered = await test.admin("POST", keysUrl(app.id), { jwk: (await appKeyPair("ES256")).jwk });
  t.equal(registered.statusCode, 409, "an eleventh registered key too");
  const keys = await storedKeys(test, app.id);
  t.equal(keys.length, MAX_KEYS_PER_APPLICATION, "ten stored, no more");
  t.equal(await test.app.domain.db.event.count(), events, "the refusals left no event");

  t.equal((await test.admin("DELETE", `${keysUrl(app.id)}/${keys[0]!.id}`)).statusCode, 204);
  t.equal((await test.admin("POST", keysUrl(app.id), {})).statusCode, 201, "deleting one made room for one");
  t.equal((await test.admin("POST", keysUrl(app.id), {})).statusCode, 409);
});

t.test("concurrent additions cannot pass ten keys, nor store one key twice", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const answers = await Promise.all(Array.from({ length: MAX_KEYS_PER_APPLICATION + 3 }, () => test.admin("POST", keysUrl(app.id), {})));
  t.same(answers.map((res) => res.statusCode).sort(), [...Array(MAX_KEYS_PER_APPLICATION).fill(201), 409, 409, 409], "ten created, the rest refused");
  t.equal((await storedKeys(test, app.id)).length, MAX_KEYS_PER_APPLICATION);

  const other = await createApp(test, { name: "Other" });
  const { jwk } = await appKeyPair("EdDSA");
  const same = await Promise.all([1, 2, 3].map(() => test.admin("POST", keysUrl(other.id), { jwk })));
  t.same(same.map((res) => res.statusCode).sort(), [201, 409, 409], "the same key, sent three times at once, is stored once");
  t.equal((await storedKeys(test, other.id)).length, 1);
});

t.test("GET lists the keys oldest first; DELETE removes one at once; unknown ones are 404", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  const other = await createApp(test, { name: "Other" });
  t.same((await test.admin("GET", keysUrl(app.id))).json(), { items: [] });
  const ids: string[] = [];
  for (const body of [{}, { jwk: (await appKeyPair("EdDSA")).jwk }, {}]) {
    test.clock.advance(1);
    ids.push((await test.admin("POST", keysUrl(app.id), body)).json().id);
  }
  const otherKey = (await test.admin("POST", keysUrl(other.id), {})).json();
  const listed = (await test.admin("GET", keysUrl(app.id))).json();
  t.same(
    listed.items.map((key: { id: string }) => key.id),
    ids,
    "oldest first, only this application's",
  );
  t.same(
    listed.items.map((key: { created_at: string }) => key.created_at),
    ["2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:03.000Z"],
  );
  for (const item of listed.items) t.same(Object.keys(item).sort(), ["alg", "created_at", "id", "kid", "public_jwk"]);

  const deleted = await test.admin("DELETE", `${keysUrl(app.id)}/${ids[1]}`);
  t.equal(deleted.statusCode, 204);
  t.equal(deleted.body, "");
  t.same(
    (await storedKeys(test, app.id)).map((key) => key.id),
    [ids[0], ids[2]],
    "the row is gone: the next authentication cannot find it",
  );
  const twice = await test.admin("DELETE", `${keysUrl(app.id)}/${ids[1]}`);
  t.equal(twice.statusCode, 404);
  t.match(twice.json(), { code: "not_found", message: "key not found" });
  const crossed = await test.admin("DELETE", `${keysUrl(app.id)}/${otherKey.id}`);
  t.equal(crossed.statusCode, 404, "a key of another application is not found under this one");
  t.match(crossed.json(), { message: "key not found" });
  t.equal((await storedKeys(test, other.id)).length, 1, "and it is still there");

  for (const [method, url, payload] of [
    ["GET", keysUrl("nope"), undefined],
    ["POST", keysUrl("nope"), {}],
    ["POST", keysUrl("nope"), { jwk: (await appKeyPair("EdDSA")).jwk }],
    ["DELETE", `${keysUrl("nope")}/${ids[0]}`, undefined],
  ] as const) {
    const res = await test.admin(method, url, payload);
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.match(res.json(), { code: "not_found", message: "application not found" });
  }
  t.equal(await test.app.domain.db.applicationKey.count(), 3, "nothing stored for the unknown application");
  t.equal((await test.app.inject({ method: "GET", url: keysUrl(app.id) })).statusCode, 401, "needs the admin token");
  t.equal((await test.app.inject({ method: "POST", url: keysUrl(app.id) })).statusCode, 401);

  t.equal((await test.admin("DELETE", `/admin/v1/applications/${app.id}`)).statusCode, 204);
  t.equal(await test.app.domain.db.applicationKey.count({ where: { applicationId: app.id } }), 0, "deleting the application deletes its keys");
});

async function keyEvents(test: TestApp) {
  return (await test.app.domain.db.event.findMany({ where: { type: { startsWith: "application.key_" } }, orderBy: { id: "asc" } })).map((event) => ({
    ...event,
    data: JSON.parse(event.data),
  }));
}

t.test("adding and deleting a key each record their event, with the admin as actor, and tell the app's webhook", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { webhook_url: "https://app.example/hook" });
  const generated = (await test.admin("POST", keysUrl(app.id), {})).json();
  const registered = (await test.admin("POST", keysUrl(app.id), { jwk: (await appKeyPair("RS256")).jwk })).json();
  t.equal((await test.admin("DELETE", `${keysUrl(app.id)}/${generated.id}`)).statusCode, 204);

  const events = await keyEvents(test);
  t.same(
    events.map((event) => [event.type, event.data]),
    [
      ["application.key_added", { key_id: generated.id, kid: generated.kid, alg: "ES256", generated: true }],
      ["application.key_added", { key_id: registered.id, kid: registered.kid, alg: "RS256", generated: false }],
      ["application.key_deleted", { key_id: generated.id, kid: generated.kid, alg: "ES256" }],
    ],
  );
  for (const event of events) {
    t.equal(event.actorType, "admin");
    t.match(event.actorId, /^admin:[0-9a-f]{12}$/);
    t.equal(event.applicationId, app.id);
    t.equal(event.installationId, null);
    t.match(event.requestId, /\S+/);
  }
  const deliveries = await test.app.domain.db.webhookDelivery.findMany({
    where: { type: { startsWith: "application.key_" } },
    orderBy: { id: "asc" },
  });
  t.same(
    deliveries.map((delivery) => [delivery.eventId, delivery.installationId, JSON.parse(delivery.payload).data]),
    events.map((event) => [event.id, null, event.data]),
    "one webhook delivery per event, with the same data",
  );
  const pemBody = generated.private_key.replace(/-----[A-Z ]+-----|\n/g, "");
  t.notOk(JSON.stringify([events, deliveries]).includes(pemBody.slice(-40)), "no private key in events or webhooks");

  const listed = (await test.admin("GET", `/admin/v1/events?type=application.key_added&application_id=${app.id}`)).json();
  t.equal(listed.items.length, 2, "the audit log API knows the new types");
});

t.test("a key change whose transaction fails leaves neither the key nor its event", async (t) => {
  const test = await buildTestApp(t);
  const app = await createApp(test, { webhook_url: "https://app.example/hook" });
  const ctx = test.app.domain;
  const failing: DomainContext = {
    ...ctx,
    transaction: (fn) =>
      ctx.transaction(async (tx) => {
        await fn(tx);
        throw new Error("injected failure after the event");
      }),
  };
  const snapshot = async () => ({
    keys: await ctx.db.applicationKey.findMany({ orderBy: { id: "asc" } }),
    events: await ctx.db.event.findMany({ orderBy: { id: "asc" } }),
    deliveries: await ctx.db.webhookDelivery.count(),
  });
  const before = await snapshot();
  await t.rejects(generateKey(failing, app.id), /injected failure/);
  await t.rejects(registerKey(failing, app.id, (await appKeyPair("EdDSA")).jwk as Record<string, unknown>), /injected failure/);
  t.same(await snapshot(), before, "adding: no key, no event, no delivery");

  const { key } = await generateKey(ctx, app.id);
  const afterAdd = await snapshot();
  t.equal(afterAdd.keys.length, 1);
  t.equal(afterAdd.events.length, before.events.length + 1, "the successful addition has its event");
  await t.rejects(deleteKey(failing, app.id, key.id), /injected failure/);
  t.same(await snapshot(), afterAdd, "deleting: the key stays, no event");
});

t.test("a stored key of every kind imports with jose for its algorithm, as the token endpoint does", async (t: Test) => {
  const test = await buildTestApp(t);
  const app = await createApp(test);
  await test.admin("POST", keysUrl(app.id), {});
  for (const alg of ["RS256", "PS256", "EdDSA"] as const) {
    await test.admin("POST", keysUrl(app.id), { jwk: (await appKeyPair(alg, alg === "PS256" ? { alg } : {})).jwk });
  }
  const rows = await storedKeys(test, app.id);
  t.same(rows.map((row) => row.alg).sort(), ["ES256", "EdDSA", "PS256", "RS256"]);
  for (const row of rows) {
    const jwk = JSON.parse(row.publicJwk);
    t.equal(jwk.alg, row.alg, `${row.alg}: the JWK's alg is the row's`);
    t.equal(jwk.kid, row.kid, `${row.alg}: the JWK's kid is the row's`);
    t.equal(jwk.use, "sig");
    const key = await importJWK(jwk, row.alg);
    t.equal((key as CryptoKey).type, "public", `${row.alg}: imports as a public key`);
  }
});
