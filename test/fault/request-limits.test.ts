// The per-IP and per-client request limits apply independently (issue 8, defect 6:
// with the per-IP limit on, the default, APPGRANT_RATE_LIMIT_PER_CLIENT was never
// enforced), in memory and through Redis.
import t from "tap";
import { buildTestApp, createApp, type TestApp } from "../support/helper.js";
import { basic, setup } from "../support/oauth-helper.js";
import { REDIS_URL, uniquePrefix } from "./redis-helper.js";

const backends = [
  { name: "in memory", env: (): Record<string, string> => ({}) },
  { name: "through Redis", env: (): Record<string, string> => ({ REDIS_URL, APPGRANT_REDIS_PREFIX: uniquePrefix() }) },
];

function introspect(test: TestApp, ip: string, client: { client_id: string; client_secret: string | null }, token: string) {
  return test.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    remoteAddress: ip,
    headers: { authorization: basic(client.client_id, client.client_secret!) },
    payload: { token },
  });
}

async function statuses(count: number, send: (i: number) => Promise<{ statusCode: number }>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await send(i)).statusCode);
  return out;
}

for (const backend of backends) {
  t.test(`${backend.name}: the per-client limit holds while the per-IP limit is on`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_PER_IP: "100", APPGRANT_RATE_LIMIT_PER_CLIENT: "3" });
    const { client, tokens } = await setup(test);
    const other = await setup(test);
    const codes = await statuses(5, () => introspect(test, "10.2.0.1", client, tokens.access_token));
    t.same(codes, [200, 200, 200, 429, 429], "the fourth request of one client in the window is refused");
    const res = await introspect(test, "10.2.0.2", client, tokens.access_token);
    t.equal(res.statusCode, 429, "from any address");
    t.equal(res.json().error, "temporarily_unavailable");
    t.ok(Number(res.headers["retry-after"]) > 0, "Retry-After says when");
    const another = await introspect(test, "10.2.0.1", other.client, other.tokens.access_token);
    t.equal(another.statusCode, 200, "another client is not affected");
  });

  t.test(`${backend.name}: the per-IP limit holds while the per-client limit is on`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_PER_IP: "3", APPGRANT_RATE_LIMIT_PER_CLIENT: "100" });
    // Introspecting an unknown token is enough here: no code exchange counts against the limits.
    const clients = [await createApp(test), await createApp(test), await createApp(test), await createApp(test)];
    const codes = await statuses(4, (i) => introspect(test, "10.3.0.1", clients[i]!, "x"));
    t.same(codes, [200, 200, 200, 429], "one address, four clients: the fourth request is refused");
    t.equal((await introspect(test, "10.3.0.2", clients[0]!, "x")).statusCode, 200, "another address is not");
  });

  t.test(`${backend.name}: both limits at once, each counted on its own`, async (t) => {
    const test = await buildTestApp(t, { ...backend.env(), APPGRANT_RATE_LIMIT_PER_IP: "4", APPGRANT_RATE_LIMIT_PER_CLIENT: "2" });
    const [a, b, c] = [await createApp(test), await createApp(test), await createApp(test)];
    const codes = [
      (await introspect(test, "10.4.0.1", a, "x")).statusCode,
      (await introspect(test, "10.4.0.1", a, "x")).statusCode,
      (await introspect(test, "10.4.0.1", a, "x")).statusCode, // client a: third
      (await introspect(test, "10.4.0.1", b, "x")).statusCode, // address: fourth
      (await introspect(test, "10.4.0.1", c, "x")).statusCode, // address: fifth
      (await introspect(test, "10.4.0.2", c, "x")).statusCode,
    ];
    t.same(codes, [200, 200, 429, 200, 429, 200]);
  });
}

t.test("in memory: a new window lets the client in again (the injected clock, not the wall clock)", async (t) => {
  const test = await buildTestApp(t, { APPGRANT_RATE_LIMIT_PER_CLIENT: "2", APPGRANT_RATE_LIMIT_WINDOW: "60" });
  const { client, tokens } = await setup(test);
  t.same(await statuses(3, () => introspect(test, "10.5.0.1", client, tokens.access_token)), [200, 200, 429]);
  test.clock.advance(61);
  t.equal((await introspect(test, "10.5.0.1", client, tokens.access_token)).statusCode, 200);
});
