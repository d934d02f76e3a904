import t from "tap";
import { DependencyStatus } from "../../src/shared/dependency-status.js";

function recorder() {
  const lines: { level: string; object: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    error: (object: Record<string, unknown>, message: string) => lines.push({ level: "error", object, message }),
    info: (object: Record<string, unknown>, message: string) => lines.push({ level: "info", object, message }),
  };
}

t.test("an outage is logged once when it starts and once, with its counts, when it ends", async (t) => {
  const log = recorder();
  let now = 1_000_000;
  const status = new DependencyStatus("postgresql", log, () => now);
  t.ok(status.up);
  status.succeeded();
  t.equal(log.lines.length, 0, "nothing to say while it is up");

  const error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  for (let i = 0; i < 500; i++) status.failed(error);
  t.notOk(status.up);
  t.equal(status.outage?.failures, 500);
  t.equal(log.lines.length, 1, "500 failures, one line");
  t.match(log.lines[0], { level: "error", message: "postgresql unavailable", object: { dependency: "postgresql" } });
  t.equal(log.lines[0]!.object.error, "connect ECONNREFUSED 127.0.0.1:5432", "the message alone when it names its code");
  t.notOk(JSON.stringify(log.lines).includes("    at "), "no stack trace");

  now += 10_000;
  status.succeeded();
  status.succeeded();
  t.ok(status.up);
  t.equal(log.lines.length, 2, "the end is logged once");
  t.match(log.lines[1], { level: "info", message: "postgresql available again", object: { downSeconds: 10, failures: 500 } });
});

t.test("an error's code is added to a message that does not name it", async (t) => {
  const log = recorder();
  const status = new DependencyStatus("redis", log);
  status.failed(Object.assign(new Error("Command timed out"), { code: "ETIMEDOUT" }));
  t.equal(log.lines[0]!.object.error, "ETIMEDOUT: Command timed out");
});
