// The ceiling: a bare Fastify route that parses the same form body as /oauth/token
// and returns fixed JSON. Same Fastify, same body parser, same process pinning.
import formbody from "@fastify/formbody";
import Fastify from "fastify";

const app = Fastify({ logger: false });
await app.register(formbody);
const fixed = { access_token: "x", token_type: "Bearer", expires_in: 28800, refresh_token: "y", scope: "read write", installation_id: "z" };
app.post("/oauth/token", async (request) => {
  if (typeof request.body !== "object" || request.body === null) throw new Error("no body");
  return fixed;
});
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
