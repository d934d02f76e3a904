// An HTTP client for the fault tests that reports what fetch hides: whether a request
// went out on a reused keep-alive connection, the exact socket error, and the
// response's Connection header. One http.Agent per simulated client, one socket each.
import http from "node:http";

export type Outcome =
  | { kind: "response"; status: number; headers: http.IncomingHttpHeaders; body: string; reusedSocket: boolean; sentAt: number; receivedAt: number }
  | { kind: "error"; code: string; reusedSocket: boolean; sentAt: number };

export interface RawRequest {
  port: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: http.Agent;
  timeoutMs?: number;
}

export function keepAliveAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}

export function send(request: RawRequest): Promise<Outcome> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const body = request.body ?? "";
    const req = http.request({
      host: "127.0.0.1",
      port: request.port,
      method: request.method ?? "POST",
      path: request.path,
      agent: request.agent ?? false,
      headers: { "content-length": String(Buffer.byteLength(body)), ...request.headers },
    });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error("client timeout"), { code: "CLIENT_TIMEOUT" }));
    }, request.timeoutMs ?? 15_000);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        settle({
          kind: "response",
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          reusedSocket: req.reusedSocket,
          sentAt,
          receivedAt: Date.now(),
        }),
      );
      res.on("error", (error: NodeJS.ErrnoException) =>
        settle({ kind: "error", code: error.code ?? error.message, reusedSocket: req.reusedSocket, sentAt }),
      );
    });
    req.on("error", (error: NodeJS.ErrnoException) =>
      settle({ kind: "error", code: error.code ?? error.message, reusedSocket: req.reusedSocket, sentAt }),
    );
    req.end(body);
  });
}
