// `appgrant events list|show`: the audit log from the CLI, and the CLI's own changes
// recorded with the CLI as actor.
import t from "tap";
import { cliOnFreshDir, createArgs, json } from "../support/cli-helper.js";

t.test("a CLI change is recorded as the CLI's; events list and show read it back", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const created = json(await cli(...createArgs, "--json"));
  json(await cli("apps", "add-secret", created.id, "--json"));

  const listed = json(await cli("events", "list", "--json"));
  t.same(
    listed.items.map((event: { type: string }) => event.type),
    ["application.secret_added", "application.created"],
    "newest first",
  );
  for (const event of listed.items) {
    t.same(event.actor, { type: "cli", id: null }, `${event.type}: actor cli`);
    t.equal(event.request_id, null);
    t.equal(event.source_ip, null);
    t.equal(event.application_id, created.id);
  }
  t.equal(listed.next_cursor, null);

  const filtered = json(await cli("events", "list", "--type", "application.created", "--json"));
  t.same(
    filtered.items.map((event: { type: string }) => event.type),
    ["application.created"],
  );
  const future = json(await cli("events", "list", "--since", "2999-01-01T00:00:00Z", "--json"));
  t.same(future.items, []);

  const shown = json(await cli("events", "show", listed.items[1].id, "--json"));
  t.same(shown, listed.items[1]);
  const human = await cli("events", "show", listed.items[1].id);
  t.equal(human.code, 0);
  t.match(human.stdout, /^type:\s+application\.created$/m);
  t.match(human.stdout, /^actor:\s+cli$/m);
  const table = await cli("events", "list");
  t.match(table.stdout, /application\.secret_added\s+cli/);
  t.notOk(JSON.stringify(listed).includes(created.client_secret), "no secret in any event");

  const missing = await cli("events", "show", "00000000-0000-7000-8000-000000000000");
  t.equal(missing.code, 1);
  t.match(missing.stderr, /event not found/);
  const bad = await cli("events", "list", "--type", "nope");
  t.equal(bad.code, 1);
  t.match(bad.stderr, /unknown event type "nope"/);
  const badDate = await cli("events", "list", "--since", "yesterday");
  t.equal(badDate.code, 2, "a malformed date is a usage error");
});
