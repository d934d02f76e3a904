// `appgrant installs suspend|unsuspend`: the same domain functions as the admin API, as a child process.
import t from "tap";
import { cliOnFreshDir, createArgs, field, json } from "../support/cli-helper.js";

t.test("installs suspend and unsuspend: status, reason, the list filter, idempotence and refusals", async (t) => {
  const { cli } = cliOnFreshDir(t);
  const app = json(await cli(...createArgs, "--json"));
  const id = json(await cli("installs", "create", "--json", "--client-id", app.client_id, "--account", "acme")).id as string;

  const suspended = await cli("installs", "suspend", id, "--reason", "billing overdue");
  t.equal(suspended.code, 0, suspended.stderr);
  t.equal(field(suspended.stdout, "status"), "suspended");
  t.equal(field(suspended.stdout, "suspension_reason"), "billing overdue");
  t.match(suspended.stdout, /Suspended: its tokens are inactive/);
  t.match((await cli("installs", "suspend", id)).stdout, /Already suspended: nothing changed/);
  const listed = json(await cli("installs", "list", "--json", "--status", "suspended"));
  t.same(
    listed.items.map((item: { id: string }) => item.id),
    [id],
  );

  const back = json(await cli("installs", "unsuspend", id, "--json"));
  t.match(back, { id, status: "active", suspended_at: null, suspension_reason: null });
  t.match((await cli("installs", "unsuspend", id)).stdout, /Not suspended: nothing changed/);

  const events = json(await cli("events", "list", "--json", "--type", "installation.suspended"));
  t.match(events.items, [{ type: "installation.suspended", actor: { type: "cli" }, data: { reason: "billing overdue" } }]);

  t.equal((await cli("installs", "uninstall", id)).code, 0);
  const refused = await cli("installs", "suspend", id);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /installation is uninstalled/);
  t.equal((await cli("installs", "unsuspend", "no-such-id")).code, 1);
});
