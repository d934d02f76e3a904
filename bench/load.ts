// The load generator, run in its own process (pinned to the other core): autocannon
// against /oauth/token, each credential from the input file used exactly once.
import autocannon from "autocannon";
import { readFileSync } from "node:fs";

const [url, file, grant, durationText, connectionsText, authorization] = process.argv.slice(2) as [string, string, string, string, string, string];
const values = JSON.parse(readFileSync(file, "utf8")) as string[];
let next = 0;
const body = () => {
  const value = values[next++];
  if (value === undefined) throw new Error("out of credentials: seed more");
  return grant === "refresh_token" ? `grant_type=refresh_token&refresh_token=${value}` : `grant_type=authorization_code&code=${value}`;
};

const result = await autocannon({
  url,
  connections: Number(connectionsText),
  duration: Number(durationText),
  requests: [
    {
      method: "POST",
      path: "/oauth/token",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization },
      setupRequest: (request) => ({ ...request, body: body() }),
    },
  ],
});
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    used: next,
  })}\n`,
);
