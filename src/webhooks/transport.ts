// One webhook POST under the address policy, on node:http/https rather than fetch:
// global fetch on Node 20 cannot take a lookup hook, and the check must sit where
// the address is chosen. The name is resolved once per attempt, by our lookup;
// every address it returns goes through the policy and the socket is handed only
// the allowed ones, so there is no second resolution an attacker's DNS could
// answer differently (rebinding). The address the socket actually connected to is
// checked again before a byte of the request is written. Redirects are never
// followed (node:http does not follow them; a 3xx is a failed attempt).
import type { LookupAddress, LookupOptions } from "node:dns";
import { lookup as systemLookup } from "node:dns/promises";
import { request as httpRequest, type ClientRequest, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type Socket } from "node:net";
import { AddressRefused, type WebhookAddressPolicy } from "../shared/webhook-address-policy.js";

/** Resolves a host name to its addresses. Injectable: tests map names without real DNS. */
export type Resolver = (hostname: string) => Promise<string[]>;

/** getaddrinfo, as Node's own connections use it (hosts file included). */
export const systemResolver: Resolver = async (hostname) =>
  (await systemLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

export class DnsTimeout extends Error {
  override name = "DnsTimeout";
}

export interface PostOptions {
  headers: OutgoingHttpHeaders;
  body: string;
  policy: WebhookAddressPolicy;
  resolver: Resolver;
  dnsTimeoutMs: number;
  /** Bounds the whole attempt: DNS, connect, TLS, response headers. */
  signal: AbortSignal;
}

/**
 * The resolver bounded by a deadline. getaddrinfo cannot be cancelled: a lookup past
 * its deadline is abandoned, not stopped (it still holds a libuv thread until it ends).
 */
function resolveWithin(resolver: Resolver, hostname: string, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new DnsTimeout(`no answer for the host name in ${ms} ms`)), ms);
    resolver(hostname).then(
      (addresses) => {
        clearTimeout(timer);
        resolve(addresses);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function guardedLookup(options: PostOptions, protocol: string) {
  return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    resolveWithin(options.resolver, hostname, options.dnsTimeoutMs).then(
      (addresses) => {
        const wanted = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
        const candidates = addresses.filter((address) => isIP(address) !== 0 && (wanted === 0 || isIP(address) === wanted));
        if (candidates.length === 0) {
          callback(Object.assign(new Error("the host name has no usable address"), { code: "ENOTFOUND" }), "");
          return;
        }
        const refusals = candidates.map((address) => options.policy.checkAddress(address, protocol));
        const allowed = candidates.filter((_address, i) => refusals[i] === undefined);
        // Every address refused: the name points inside the network. Some refused: use only the others.
        if (allowed.length === 0) return callback(new AddressRefused(refusals[0]!), "");
        if (lookupOptions.all)
          return callback(
            null,
            allowed.map((address) => ({ address, family: isIP(address) })),
          );
        callback(null, allowed[0]!, isIP(allowed[0]!));
      },
      (error: NodeJS.ErrnoException) => callback(error, ""),
    );
  };
}

/** How much of a response body is kept (for the delivery's record). */
export const RESPONSE_PREFIX_BYTES = 4096;

export interface WebhookResponse {
  status: number;
  /** The first RESPONSE_PREFIX_BYTES of the body (UTF-8, possibly cut mid-character); the rest is not read. */
  body: string;
}

/** POSTs `body` to `url`; resolves with the response status and the start of its body. Throws AddressRefused when the policy refuses the destination. */
export function postWebhook(url: string, options: PostOptions): Promise<WebhookResponse> {
  const refusal = options.policy.checkUrl(url);
  if (refusal !== undefined) return Promise.reject(new AddressRefused(refusal));
  const target = new URL(url);
  const hostname = target.hostname.replace(/^\[|\]$/g, "");
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<WebhookResponse>((resolve, reject) => {
    let req: ClientRequest;
    try {
      req = request({
        method: "POST",
        protocol: target.protocol,
        hostname,
        port: target.port || undefined,
        path: `${target.pathname}${target.search}`,
        headers: { ...options.headers, "content-length": Buffer.byteLength(options.body) },
        // A connection of its own: a pooled socket's peer was checked for another delivery.
        agent: false,
        // Node skips lookup for an IP literal; checkUrl has judged it, and the connect check below does again.
        lookup: guardedLookup(options, target.protocol),
        signal: options.signal,
      });
    } catch (error) {
      reject(error);
      return;
    }
    req.on("error", reject);
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      // Only the start of the body is kept; the attempt's signal still bounds the wait for it.
      const done = () => {
        resolve({ status, body: Buffer.concat(chunks).subarray(0, RESPONSE_PREFIX_BYTES).toString("utf8") });
        res.destroy();
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_PREFIX_BYTES) done();
      });
      res.on("end", done);
      // An answer cut short (or the deadline) still has its status: the body was only a record.
      res.on("error", done);
      res.on("aborted", done);
    });
    req.on("socket", (socket: Socket) => {
      const send = () => {
        const peer = socket.remoteAddress;
        const refused = peer === undefined ? "the connection has no peer address" : options.policy.checkAddress(peer, target.protocol);
        if (refused !== undefined) req.destroy(new AddressRefused(refused));
        else req.end(options.body);
      };
      if (socket.connecting) socket.once("connect", send);
      else send();
    });
  });
}
