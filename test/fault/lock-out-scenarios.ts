// The lock-out scenarios of issue 8, defect 5, for one backend (test/fault/lock-out.test.ts
// runs them in memory, test/fault/lock-out-redis.test.ts through Redis).
import type { Test } from "tap";
import { generateCredential } from "../../src/crypto/tokens.js";
import { buildTestApp, createApp, type TestApp } from "../support/helper.js";
import { basic, formBody, setup } from "../support/oauth-helper.js";

/** APPGRANT_RATE_LIMIT_AUTH_FAILURES in these scenarios: small, as every failure costs an argon2 verification. */
export const FAILURES = 2;

export function introspect(test: TestApp, ip: string, clientId: string, secret: string, token: string, headers: Record<string, string> = {}) {
  return test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    remoteAddress: ip,
    headers: { authorization: basic(clientId, secret), ...headers },
    payload: { token },
  });
}

function tokenFrom(test: TestApp, ip: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return test.app.inject({
    method: "POST",
    url: "/oauth/token",
    remoteAddress: ip,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: formBody(fields),
  });
}

/** A well-formed secret (valid checksum) that is not the client's: it costs a verification unless refused first. */
export const wrongSecret = () => generateCredential("clientSecret");

/** Counts the argon2 verifications the app starts from now on (a spy on its SecretHasher). */
export function argon2Spy(test: TestApp): { readonly count: number } {
  const hasher = test.app.domain.hasher;
  const verify = hasher.verify.bind(hasher);
  const spy = { count: 0 };
  hasher.verify = (storedHash, presented) => {
    spy.count++;
    return verify(storedHash, presented);
  };
  return spy;
}

/** The scenarios, against one backend (`env` adds its variables to every app). */
export function lockOutScenarios(t: Test, backend: { name: string; env: () => Record<string, string> }): void {
  t.test(`${backend.name}: wrong secrets from many addresses do not lock the client out`, async (t) => {
    const test = await buildTestApp(t, {
      ...backend.env(),
      APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES),
      APPGRANT_RATE_LIMIT_PER_CLIENT: "10",
    });
    const { client, tokens } = await setup(test); // its secret is verified here
    const argon2 = argon2Spy(test);
    const attack: number[] = [];
    for (let i = 0; i < 21; i++) attack.push((await introspect(test, `10.66.0.${i + 1}`, client.client_id, wrongSecret(), "x")).statusCode);
    t.same([...new Set(attack)].sort(), [401, 429], "the attacker is told no, then refused");
    t.ok(argon2.count <= 2 * FAILURES, `the attack cost a bounded number of argon2 verifications (${argon2.count})`);

    const mine: number[] = [];
    for (let i = 0; i < 5; i++) {
      mine.push((await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, tokens.access_token)).statusCode);
    }
    t.same(mine, [200, 200, 200, 200, 200], "the client presenting its secret is served throughout");
    const rotated = await tokenFrom(
      test,
      "10.0.0.1",
      { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
      {
        authorization: basic(client.client_id, client.client_secret!),
      },
    );
    t.equal(rotated.statusCode, 200, "and gets tokens");
  });

  t.test(`${backend.name}: one address failing is refused, even rotating X-Forwarded-For when no proxy is trusted`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES) });
    const victim = await createApp(test); // its secret not verified yet
    const codes: number[] = [];
    for (let i = 0; i < FAILURES + 2; i++) {
      const res = await introspect(test, "10.66.1.1", victim.client_id, wrongSecret(), "x", { "x-forwarded-for": `192.0.2.${i + 1}` });
      codes.push(res.statusCode);
    }
    const expected = [...Array<number>(FAILURES).fill(401), 429, 429];
    t.same(codes, expected, "X-Forwarded-For is not the caller's address without APPGRANT_TRUST_PROXY");
    const refused = await introspect(test, "10.66.1.1", victim.client_id, victim.client_secret!, "x");
    t.equal(refused.statusCode, 429, "from that address, a secret not verified recently is refused before verification");
    const bystander = await createApp(test);
    const there = await introspect(test, "10.66.1.1", bystander.client_id, bystander.client_secret!, "x");
    t.equal(there.statusCode, 200, "another client there is not");
    const elsewhere = await introspect(test, "10.0.0.1", victim.client_id, victim.client_secret!, "x");
    t.equal(elsewhere.statusCode, 200, "the client elsewhere is served");
    const again = await introspect(test, "10.66.1.1", victim.client_id, victim.client_secret!, "x");
    t.equal(again.statusCode, 200, "and, its secret now verified, even from the refused address");
  });

  t.test(`${backend.name}: behind a proxy trusted blindly, rotated X-Forwarded-For is an attack the client survives`, async (t) => {
    const test = await buildTestApp(t, {
      ...backend.env(),
      APPGRANT_TRUST_PROXY: "true",
      APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES),
    });
    const { client, tokens } = await setup(test);
    const argon2 = argon2Spy(test);
    for (let i = 0; i < 30; i++) {
      await introspect(test, "10.0.0.254", client.client_id, wrongSecret(), "x", { "x-forwarded-for": `198.51.100.${i + 1}` });
    }
    t.ok(argon2.count <= 2 * FAILURES, `bounded argon2 verifications (${argon2.count})`);
    const served = await introspect(test, "10.0.0.254", client.client_id, client.client_secret!, tokens.access_token, {
      "x-forwarded-for": "203.0.113.7",
    });
    t.equal(served.statusCode, 200, "the client is served");
  });

  t.test(`${backend.name}: unknown client ids from one address: the address is refused, nobody else`, async (t) => {
    const test = await buildTestApp(t, {
      ...backend.env(),
      APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES),
      APPGRANT_RATE_LIMIT_AUTH_FAILURES_PER_IP: "5",
    });
    const { client, tokens } = await setup(test);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      codes.push((await introspect(test, "10.66.2.1", `unknown${i}`, wrongSecret(), "x")).statusCode);
    }
    t.same(codes, [401, 401, 401, 401, 401, 429, 429], "failures across client ids are counted per address");
    t.equal((await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, tokens.access_token)).statusCode, 200);
  });

  t.test(`${backend.name}: a public client's id in many wrong requests does not lock it out`, async (t) => {
    const test = await buildTestApp(t, {
      ...backend.env(),
      APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES),
      APPGRANT_RATE_LIMIT_PER_CLIENT: "3",
    });
    const { client, tokens } = await setup(test, { app: { client_type: "public" } });
    const attack: number[] = [];
    for (let i = 0; i < 10; i++) {
      const ip = `10.66.3.${i + 1}`;
      const withSecret = { grant_type: "refresh_token", refresh_token: "x", client_id: client.client_id, client_secret: "nope" };
      attack.push((await tokenFrom(test, ip, withSecret)).statusCode);
      for (let j = 0; j < 4; j++) {
        const asTheClient = { grant_type: "refresh_token", refresh_token: `agr_${j}`, client_id: client.client_id };
        attack.push((await tokenFrom(test, ip, asTheClient)).statusCode);
      }
    }
    t.notOk(attack.includes(200), "the attacker got nothing");
    const mine = { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id };
    const res = await tokenFrom(test, "10.0.0.1", mine);
    t.equal(res.statusCode, 200, "the public client's own user still refreshes");
  });

  t.test(`${backend.name}: concurrent guesses cannot slip under the limits together`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES) });
    const { client, tokens } = await setup(test);
    const argon2 = argon2Spy(test);
    const fromOneAddress = await Promise.all(Array.from({ length: 10 }, () => introspect(test, "10.66.8.1", client.client_id, wrongSecret(), "x")));
    const fromMany = await Promise.all(
      Array.from({ length: 20 }, (_, i) => introspect(test, `10.66.9.${i + 1}`, client.client_id, wrongSecret(), "x")),
    );
    t.notOk(
      [...fromOneAddress, ...fromMany].some((res) => res.statusCode === 200),
      "no guess succeeded",
    );
    t.ok(argon2.count <= 2 * FAILURES, `at most ${2 * FAILURES} argon2 verifications in the window (${argon2.count})`);
    t.equal((await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, tokens.access_token)).statusCode, 200);
  });

  t.test(`${backend.name}: during an attack a secret not verified recently gets a bounded number of verifications`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES) });
    const client = await createApp(test); // its secret not verified yet
    const codes: number[] = [];
    for (let i = 0; i < 2 * FAILURES + 3; i++) {
      codes.push((await introspect(test, `10.66.4.${i + 1}`, client.client_id, wrongSecret(), "x")).statusCode);
    }
    t.same(codes.slice(0, 2 * FAILURES), Array(2 * FAILURES).fill(401), "verifications within the budget");
    t.same(codes.slice(2 * FAILURES), [429, 429, 429], "then refused before any argon2 work");
    const refused = await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, "x");
    t.equal(refused.statusCode, 429, "a secret never verified waits for the window like everyone");
    t.ok(Number(refused.headers["retry-after"]) > 0, "Retry-After says when");
  });
}
