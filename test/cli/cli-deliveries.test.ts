// `appgrant deliveries …`, and the deliveries a CLI-created installation gets: the event
// and its delivery are written by the CLI's own transaction, for a server to send.
import t from "tap";
import { cliOnFreshDir, createArgs, databaseBytes, field, json } from "../support/cli-helper.js";

t.test("an installation created by the CLI has its delivery; deliveries list, show and redeliver it", async (t) => {
  const { cli, dbFile } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--webhook-url", "https://bot.example/hook", "--json"));
  const installed = json(await cli("installs", "create", "--client-id", app.client_id, "--account", "acme", "--json"));
  t.notOk(databaseBytes(dbFile).includes(installed.code), "the code is sealed in the delivery, not stored in the clear");

  const listed = json(await cli("deliveries", "list", app.client_id, "--json"));
  t.equal(listed.items.length, 1);
  const delivery = listed.items[0];
  t.match(delivery, { type: "installation.created", status: "pending", attempts: 0, application_id: app.id, installation_id: installed.id });
  t.match(delivery.id, /^msg_/);

  const help = await cli("deliveries", "list", "--help");
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /newest first/, "the help says the order the list has");
  t.notMatch(help.stdout, /oldest first/);

  const human = await cli("deliveries", "list", app.id);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, new RegExp(`${delivery.id}\\s+installation\\.created\\s+pending`));

  const shown = await cli("deliveries", "show", delivery.id);
  t.equal(shown.code, 0, shown.stderr);
  t.equal(field(shown.stdout, "status"), "pending");
  const { request, ...summary } = json(await cli("deliveries", "show", delivery.id, "--json"));
  t.same(summary, delivery, "the listing's fields");
  t.same(
    request.headers,
    { "webhook-id": delivery.id, "content-type": "application/json", "user-agent": "appgrant-webhooks" },
    "and the request, as the admin API shows it (no attempt yet: no webhook-timestamp)",
  );
  t.match(request.body, { type: "installation.created", data: { installation: { id: installed.id }, code: "agc_…" } }, "its code redacted");
  t.match(shown.stdout, new RegExp(`webhook-id: ${delivery.id}`), "the text output shows the request's headers");
  t.match(shown.stdout, /"code": "agc_…"/, "and its body");
  t.notOk(shown.stdout.includes(installed.code), "never the code");

  const redelivered = await cli("deliveries", "redeliver", delivery.id);
  t.equal(redelivered.code, 0, redelivered.stderr);
  t.match(redelivered.stdout, /Queued/);

  const missing = await cli("deliveries", "show", "msg_missing");
  t.equal(missing.code, 1);
  t.match(missing.stderr, /not found/);
  t.equal((await cli("deliveries", "list", "no-such-app")).code, 1);
});
