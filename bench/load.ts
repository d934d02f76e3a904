// The load generator, run in its own process: autocannon against one or more server
// processes (one autocannon instance each, run together), each credential from the
// input file used exactly once unless the target allows cycling (bare route,
// introspection, which does not consume).
//   argv: <urls comma-separated> <values file> <kind> <duration> <connections per url> <authorization>
import autocannon from "autocannon";
import { readFileSync } from "node:fs";

const [urls, file, kind, durationText, connectionsText, authorization] = process.argv.slice(2) as [string, string, string, string, string, string];
const values = JSON.parse(readFileSync(file, "utf8")) as string[];
const cycle = kind === "bare" || kind === "introspect" || kind === "cc-secret";
const targets = urls.split(",");
const path = kind === "introspect" ? "/oauth/introspect" : "/oauth/token";

const ASSERTION_TYPE = encodeURIComponent("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
const body = (value: string) => {
  if (kind === "refresh") return `grant_type=refresh_token&refresh_token=${value}`;
  if (kind === "introspect") return `token=${value}`;
  if (kind === "cc-secret") return `grant_type=client_credentials&installation_id=${value}`;
  if (kind === "cc-jwt") {
    // "<installation id> <assertion>": each assertion's jti is single-use.
    const [installationId, assertion] = value.split(" ");
    return `grant_type=client_credentials&installation_id=${installationId}&client_assertion_type=${ASSERTION_TYPE}&client_assertion=${assertion}`;
  }
  return `grant_type=authorization_code&code=${value}`;
};

const results = await Promise.all(
  targets.map((url, index) => {
    // Disjoint slices per server process: a code is never sent to two processes.
    const share = values.filter((_, i) => i % targets.length === index);
    let next = 0;
    return autocannon({
      url,
      connections: Number(connectionsText),
      duration: Number(durationText),
      requests: [
        {
          method: "POST",
          path,
          headers: { "content-type": "application/x-www-form-urlencoded", ...(authorization !== "" ? { authorization } : {}) },
          setupRequest: (request) => {
            const value = cycle ? share[next++ % share.length] : share[next++];
            if (value === undefined) throw new Error("out of credentials: seed more (BENCH_MAX_RATE)");
            return { ...request, body: body(value) };
          },
        },
      ],
    });
  }),
);
const sum = (pick: (r: autocannon.Result) => number) => results.reduce((n, r) => n + pick(r), 0);
process.stdout.write(
  `${JSON.stringify({
    rps: sum((r) => r.requests.average),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    max: Math.max(...results.map((r) => r.latency.max)),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
  })}\n`,
);
