// Application keys: generate a key pair (the private key shown once) or register the
// application's own public key, list them, delete one (src/domain/application-keys.ts).
import type { FastifyInstance } from "fastify";
import { deleteKey, generateKey, listKeys, MAX_KEYS_PER_APPLICATION, registerKey } from "../../domain/application-keys.js";
import { applicationKeyJson } from "../../domain/views.js";
import { asAdmin } from "./actor.js";
import * as s from "./schemas.js";

const tags = ["applications"];
const security = s.adminSecurity;

export async function keyRoutes(instance: FastifyInstance): Promise<void> {
  // "Generate a key" has nothing to say: `curl -X POST -H 'content-type: application/json'`
  // without a body must work like no body at all, which Fastify's JSON parser refuses. In
  // this context only (the other admin routes keep refusing an empty JSON body).
  const json = instance.getDefaultJsonParser("error", "error");
  instance.removeContentTypeParser("application/json");
  instance.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) =>
    body === "" ? done(null, undefined) : json(request, body as string, done),
  );

  const app = instance.withTypeProvider<s.AdminTypeProvider>();

  app.post(
    "/applications/:id/keys",
    {
      schema: {
        tags,
        security,
        operationId: "addApplicationKey",
        summary: "Generate a key pair for the application, or register its own public key.",
        description:
          "Keys verify the JWTs the application signs: client assertions (`private_key_jwt` client authentication) and " +
          "the GitHub-compatible app JWT. Without a body (or with `{}`), appgrant generates an ES256 key pair, stores " +
          "its public key and returns the private key once (PKCS#8 PEM). With `jwk`, it registers the application's own " +
          "public key (RSA of 2048 bits or more, EC P-256 or Ed25519). The `kid` is always the key's RFC 7638 " +
          `thumbprint. An application holds at most ${MAX_KEYS_PER_APPLICATION} keys, for rotation: add the new one, ` +
          "deploy it, delete the old one; the same key twice is refused with 409.",
        params: s.idParams,
        body: s.createKeyBody,
        response: {
          201: {
            ...s.createdKey,
            "x-response-description":
              "The key. For a generated key, `private_key` is shown once, here, and never again: only the public key is stored.",
            headers: s.noStoreHeaders,
          },
          ...s.adminErrors(400, 401, 404, 409, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const ctx = asAdmin(request);
      const { id } = request.params;
      const jwk = request.body?.jwk;
      if (jwk !== undefined) {
        const key = await registerKey(ctx, id, jwk);
        request.log.info({ applicationId: id, keyId: key.id, kid: key.kid, alg: key.alg }, "application key registered");
        return reply.code(201).send(applicationKeyJson(key));
      }
      const { key, privateKeyPem } = await generateKey(ctx, id);
      request.log.info({ applicationId: id, keyId: key.id, kid: key.kid, alg: key.alg }, "application key generated");
      return reply.code(201).send({ ...applicationKeyJson(key), private_key: privateKeyPem });
    },
  );

  app.get(
    "/applications/:id/keys",
    {
      schema: {
        tags,
        security,
        operationId: "listApplicationKeys",
        summary: "List an application's keys (public parts only: nothing else is stored).",
        params: s.idParams,
        response: {
          200: { ...s.applicationKeyList, "x-response-description": "Every key of the application, oldest first." },
          ...s.adminErrors(400, 401, 404, 503),
        },
      },
    },
    async (request) => ({ items: (await listKeys(asAdmin(request), request.params.id)).map(applicationKeyJson) }),
  );

  app.delete(
    "/applications/:id/keys/:key_id",
    {
      schema: {
        tags,
        security,
        operationId: "deleteApplicationKey",
        summary: "Delete an application key; it stops verifying at once.",
        description:
          "New JWTs signed with the key are refused at once, in every server process. Tokens already issued on the " +
          "strength of it live until they expire or are revoked.",
        params: s.keyParams,
        response: { 204: { type: "null", description: "Deleted." }, ...s.adminErrors(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      await deleteKey(asAdmin(request), request.params.id, request.params.key_id);
      request.log.info({ applicationId: request.params.id, keyId: request.params.key_id }, "application key deleted");
      return reply.code(204).send(null);
    },
  );
}
