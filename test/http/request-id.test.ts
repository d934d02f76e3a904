// Request ids (issue 12): an acceptable incoming X-Request-Id is kept, anything else is
// replaced by a generated one; the id comes back on every response (successes, OAuth
// and admin errors, 404s), is in every log line of the request, in admin error bodies
// and in the events the request records.
import t from "tap";
import { buildTestApp, createApp } from "../support/helper.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test("an acceptable X-Request-Id is kept and echoed; others are replaced", async (t) => {
  const test = await buildTestApp(t);
  const kept = await test.app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": "lb-7f3a:2026/12/02+abc=" } });
  t.equal(kept.headers["x-request-id"], "lb-7f3a:2026/12/02+abc=");
  for (const bad of ["has space", "x".repeat(129), 'quote"', "semi;colon", "ünïcode"]) {
    const res = await test.app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": bad } });
    t.match(res.headers["x-request-id"], UUID, `${JSON.stringify(bad.slice(0, 20))} is replaced by a generated id`);
  }
  const none = await test.app.inject({ method: "GET", url: "/healthz" });
  const other = await test.app.inject({ method: "GET", url: "/healthz" });
  t.match(none.headers["x-request-id"], UUID, "generated when absent");
  t.not(none.headers["x-request-id"], other.headers["x-request-id"], "a new one per request");
});

t.test("every kind of response carries it, and the request's log lines and admin errors name it", async (t) => {
  const test = await buildTestApp(t);
  const id = "support-ticket-4711";
  const responses = [
    await test.app.inject({ method: "GET", url: "/nowhere", headers: { "x-request-id": id } }),
    await test.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "x-request-id": id, "content-type": "application/x-www-form-urlencoded" },
      payload: "grant_type=password",
    }),
    await test.app.inject({ method: "GET", url: "/admin/v1/applications/nope", headers: { "x-request-id": id, authorization: "Bearer wrong" } }),
    await test.admin("GET", "/admin/v1/applications/nope", undefined, { "x-request-id": id }),
  ];
  for (const res of responses) t.equal(res.headers["x-request-id"], id, `${res.statusCode} carries it`);
  t.equal(responses[3]!.statusCode, 404);
  t.equal(responses[3]!.json().request_id, id, "the admin error body names it");
  t.equal(responses[2]!.json().request_id, id, "so does a refused admin token's");
  const lines = test.logs.map((line) => JSON.parse(line) as { reqId?: string; msg: string });
  const refused = lines.find((line) => line.msg === "OAuth request refused");
  t.equal(refused?.reqId, id, "the OAuth refusal's log line carries it");
  t.ok(lines.filter((line) => line.reqId === id).length >= 4, "each request's log lines carry it");
});

t.test("events record the request id of the admin request that caused them", async (t) => {
  const test = await buildTestApp(t);
  const res = await test.admin(
    "POST",
    "/admin/v1/applications",
    { name: "Traced", redirect_uris: ["https://app.example/cb"], scopes: ["read"] },
    { "x-request-id": "change-1234" },
  );
  t.equal(res.statusCode, 201);
  const event = await test.app.domain.db.event.findFirstOrThrow({ where: { type: "application.created", applicationId: res.json().id } });
  t.equal(event.requestId, "change-1234");
  const untraced = await createApp(test);
  const generated = await test.app.domain.db.event.findFirstOrThrow({ where: { type: "application.created", applicationId: untraced.id } });
  t.match(generated.requestId, UUID, "a generated id otherwise");
});
