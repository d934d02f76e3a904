// Client ids are public: whoever knows one must not be able to lock that client out
// by failing to authenticate as it, from one address or from many (issue 8, defect 5).
// Failures are counted per address and per (client, address); a caller over its limit
// is refused, a client presenting a secret verified within the window never is, and
// the argon2 work an attack can cause stays bounded. In memory here; through Redis in
// lock-out-redis.test.ts.
import t from "tap";
import { buildTestApp, createApp } from "../support/helper.js";
import { FAILURES, introspect, lockOutScenarios, wrongSecret } from "./lock-out-scenarios.js";

lockOutScenarios(t, { name: "in memory", env: () => ({}) });

t.test("in memory: the attacker's failures are forgotten after the window", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES), APPGRANT_RATE_LIMIT_WINDOW: "60" });
  const client = await createApp(test); // its secret not verified yet
  for (let i = 0; i < 3 * FAILURES; i++) await introspect(test, `10.66.7.${i + 1}`, client.client_id, wrongSecret(), "x");
  t.equal((await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, "x")).statusCode, 429);
  test.clock.advance(61);
  t.equal((await introspect(test, "10.0.0.1", client.client_id, client.client_secret!, "x")).statusCode, 200, "served in the next window");
});

t.test("behind a proxy trusted by its address, a forged X-Forwarded-For prefix does not give the attacker new addresses", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_TRUST_PROXY: "10.0.0.254", APPGRANT_RATE_LIMIT_AUTH_FAILURES: String(FAILURES) });
  const victim = await createApp(test);
  const codes: number[] = [];
  for (let i = 0; i < FAILURES + 2; i++) {
    // The proxy appends the address it saw; what comes before it is the caller's own writing.
    const forwarded = `198.51.100.${i + 1}, 203.0.113.66`;
    codes.push((await introspect(test, "10.0.0.254", victim.client_id, wrongSecret(), "x", { "x-forwarded-for": forwarded })).statusCode);
  }
  t.same(codes, [...Array<number>(FAILURES).fill(401), 429, 429], "the address is the one the trusted proxy saw");
  const direct = await introspect(test, "203.0.113.66", victim.client_id, wrongSecret(), "x", { "x-forwarded-for": "192.0.2.9" });
  t.equal(direct.statusCode, 429, "a caller that is not the proxy cannot claim another address either");
});
