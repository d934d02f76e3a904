// A TCP proxy of the test suite's own, put between appgrant and PostgreSQL or Redis
// to inject the faults a network and a database server produce, without ever
// touching the real servers (they are shared by every test and by CI):
// - "pass":      bytes flow both ways;
// - "blackhole": connections are accepted (and kept) but nothing is forwarded in
//                either direction until the proxy passes again, as with a paused
//                VM or a stalled route;
// - "reset":     new connections are accepted and reset at once;
// - "refuse":    nothing listens on the port (ECONNREFUSED); the same port is
//                listened on again when the mode changes back.
// resetAll() resets every open connection (a server restart or a killed backend).
import net from "node:net";

export type FaultMode = "pass" | "blackhole" | "reset" | "refuse";

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export class FaultProxy {
  #server: net.Server;
  #mode: FaultMode = "pass";
  readonly #pairs = new Set<Pair>();
  #port = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    server: net.Server,
  ) {
    this.#server = server;
  }

  /** Listens on 127.0.0.1 on a port the OS picks, forwarding to `target`. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, net.createServer());
    await proxy.#listen(0);
    return proxy;
  }

  /** A target from a URL's host and port (postgresql://…, redis://…). */
  static targetOf(url: string, defaultPort: number): { host: string; port: number } {
    const parsed = new URL(url);
    return { host: parsed.hostname || "127.0.0.1", port: parsed.port ? Number(parsed.port) : defaultPort };
  }

  get port(): number {
    return this.#port;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  /** Open client connections (accepted and not yet closed). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(this.#port);
    return parsed.toString();
  }

  async setMode(mode: FaultMode): Promise<void> {
    const previous = this.#mode;
    this.#mode = mode;
    if (mode === "refuse" && previous !== "refuse") {
      // close() stops accepting at once but calls back only when every connection has
      // ended: reset them first, or this waits for the clients' own idle timeouts.
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.resetAll();
      await closed;
    } else if (mode !== "refuse" && previous === "refuse") {
      this.#server = net.createServer();
      await this.#listen(this.#port);
    }
    if (mode === "pass") for (const pair of this.#pairs) this.#flush(pair);
  }

  /** Resets every open connection, both sides. */
  resetAll(): void {
    for (const pair of this.#pairs) {
      reset(pair.client);
      if (pair.upstream) reset(pair.upstream);
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.#mode = "refuse";
    this.resetAll();
    await new Promise<void>((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()));
  }

  async #listen(port: number): Promise<void> {
    this.#server.on("connection", (socket) => this.#accept(socket));
    this.#server.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  #accept(client: net.Socket): void {
    client.on("error", () => undefined);
    // Small request/answer protocols (PostgreSQL, Redis) stall ~40 ms a round trip on
    // Nagle's algorithm meeting delayed ACKs; their drivers disable it, so does the proxy.
    client.setNoDelay(true);
    if (this.#mode === "reset" || this.#mode === "refuse") {
      reset(client);
      return;
    }
    const pair: Pair = { client, upstream: undefined, toUpstream: [], toClient: [] };
    this.#pairs.add(pair);
    client.on("close", () => this.#drop(pair));
    client.on("data", (chunk: Buffer) => {
      pair.toUpstream.push(chunk);
      this.#flush(pair);
    });
    this.#flush(pair);
  }

  /**
   * Bytes held while the proxy does not pass are delivered, in order, once it passes
   * again (what TCP does after a stalled link recovers); a connection accepted during
   * a blackhole reaches the server only then.
   */
  #flush(pair: Pair): void {
    if (this.#mode !== "pass") return;
    if (pair.upstream === undefined) {
      const upstream = net.connect({ port: this.target.port, host: this.target.host, noDelay: true });
      pair.upstream = upstream;
      upstream.on("error", () => reset(pair.client));
      upstream.on("close", () => this.#drop(pair));
      upstream.on("connect", () => this.#flush(pair));
      upstream.on("data", (chunk: Buffer) => {
        pair.toClient.push(chunk);
        this.#flush(pair);
      });
      return;
    }
    if (pair.upstream.readyState !== "open") return;
    for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}

/**
 * Resets a connection (RST). A socket already shutting down (its peer ended it) cannot
 * be reset: libuv refuses, and Node then never closes its handle, which keeps the
 * process from exiting. Such a socket is destroyed instead.
 */
function reset(socket: net.Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
