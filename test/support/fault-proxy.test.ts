// The fault proxy itself: the fault tests are only as good as the faults it injects.
import net from "node:net";
import { once } from "node:events";
import t from "tap";
import { FaultProxy } from "./fault-proxy.js";

/** An echo server on 127.0.0.1. */
async function echoServer(t: { teardown(fn: () => unknown): void }): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.teardown(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The next chunk the socket receives, or "timeout" after `ms`. */
function nextData(socket: net.Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off("data", onData);
      resolve("timeout");
    }, ms);
    const onData = (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString());
    };
    socket.once("data", onData);
  });
}

t.test("passes bytes, holds them during a blackhole and delivers them after", async (t) => {
  const proxy = await FaultProxy.start({ host: "127.0.0.1", port: await echoServer(t) });
  t.teardown(() => proxy.close());
  const socket = await connect(proxy.port);
  t.teardown(() => socket.destroy());
  socket.write("one");
  t.equal(await nextData(socket, 2000), "one");
  await proxy.setMode("blackhole");
  socket.write("two");
  t.equal(await nextData(socket, 200), "timeout", "nothing comes back through a blackhole");
  const late = nextData(socket, 2000);
  await proxy.setMode("pass");
  t.equal(await late, "two", "held bytes arrive once the link recovers");
});

t.test("a connection accepted during a blackhole reaches the server only after it", async (t) => {
  const proxy = await FaultProxy.start({ host: "127.0.0.1", port: await echoServer(t) });
  t.teardown(() => proxy.close());
  await proxy.setMode("blackhole");
  const socket = await connect(proxy.port);
  t.teardown(() => socket.destroy());
  socket.write("hello");
  t.equal(await nextData(socket, 200), "timeout");
  const late = nextData(socket, 2000);
  await proxy.setMode("pass");
  t.equal(await late, "hello");
});

t.test("reset mode and resetAll reset connections; refuse mode refuses them", async (t) => {
  const proxy = await FaultProxy.start({ host: "127.0.0.1", port: await echoServer(t) });
  t.teardown(() => proxy.close());
  const open = await connect(proxy.port);
  open.on("error", () => undefined);
  const closed = new Promise((resolve) => open.once("close", resolve));
  proxy.resetAll();
  await closed;
  t.equal(proxy.connections, 0);

  await proxy.setMode("reset");
  const reset = net.connect(proxy.port, "127.0.0.1");
  const error = await new Promise<unknown>((resolve) => {
    reset.once("error", resolve);
    reset.once("close", () => resolve(null));
  });
  t.ok(error === null || (error as NodeJS.ErrnoException).code === "ECONNRESET", "the connection is cut at once");

  await proxy.setMode("refuse");
  await t.rejects(connect(proxy.port), { code: "ECONNREFUSED" });
  await proxy.setMode("pass");
  const again = await connect(proxy.port);
  t.teardown(() => again.destroy());
  again.write("back");
  t.equal(await nextData(again, 2000), "back", "the same port serves again");
});

t.test("refusing resets the open connections at once, even one its peer is closing", async (t) => {
  const proxy = await FaultProxy.start({ host: "127.0.0.1", port: await echoServer(t) });
  t.teardown(() => proxy.close());
  const open = await connect(proxy.port);
  open.on("error", () => undefined);
  const closing = await connect(proxy.port);
  closing.on("error", () => undefined);
  closing.end(); // half-closed: the proxy's side is shutting down, which a reset cannot interrupt
  const closed = new Promise((resolve) => open.once("close", resolve));
  const refused = await Promise.race([
    proxy.setMode("refuse").then(() => "refused"),
    new Promise((resolve) => setTimeout(() => resolve("still waiting"), 2000).unref()),
  ]);
  t.equal(refused, "refused", "the mode changes without waiting for clients to hang up");
  await closed;
  t.equal(proxy.connections, 0);
});
