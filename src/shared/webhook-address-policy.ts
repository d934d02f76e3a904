// Where a webhook may go. A delivery is a signed POST carrying a live authorization
// code, sent by a server that usually sits inside the operator's network: a
// webhook_url must not be a way to reach that network (SSRF). Judged twice: at
// registration on the URL alone (checkUrl), and at delivery on every address DNS
// returns and on the address the socket connected to (checkAddress), so a name
// cannot be checked as one address and connected to as another.
//
// Classes of destination:
// - public unicast: allowed over https;
// - internal (loopback, RFC 1918, unique local, CGNAT): refused unless the operator
//   opts in (APPGRANT_WEBHOOK_ALLOW_PRIVATE, or a listed CIDR);
// - other special-purpose ranges (link-local, reserved, documentation, ...): refused
//   unless a listed CIDR covers them;
// - never: cloud metadata endpoints, unspecified, multicast, broadcast — no opt-in.
// Plain http is allowed only to a destination an opt-in opened: on the internet a
// code must not travel in the clear.
// IPv6 forms that carry an IPv4 address (mapped, SIIT, NAT64, 6to4) are judged by
// the IPv4 address they carry.
import ipaddr from "ipaddr.js";
import { isIP } from "node:net";

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

/** The operator's opt-ins (config.webhookPolicy). */
export interface WebhookPolicySettings {
  allowPrivate: boolean;
  /** CIDRs (already validated by config.ts). */
  allowedCidrs: readonly string[];
}

/** A destination the policy refuses: a permanent failure, never retried. */
export class AddressRefused extends Error {
  override name = "AddressRefused";
  constructor(readonly reason: string) {
    super(reason);
  }
}

const cidr = (text: string): Cidr => ipaddr.parseCIDR(text);

/**
 * Instance metadata and platform endpoints: they hand out credentials to whoever
 * asks from inside the instance. Some sit in ranges an opt-in opens (CGNAT, unique
 * local), hence a list that no opt-in overrides.
 */
const METADATA_RANGES: readonly Cidr[] = [
  "169.254.169.254/32", // AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
  "169.254.170.2/32", // AWS ECS task credentials
  "169.254.170.23/32", // AWS EKS Pod Identity
  "169.254.0.23/32", // Tencent Cloud
  "100.100.100.200/32", // Alibaba Cloud
  "168.63.129.16/32", // Azure WireServer
  "192.0.0.192/32", // Oracle Cloud (legacy)
  "fd00:ec2::/32", // AWS IPv6 (IMDS fd00:ec2::254, Pod Identity, DNS, NTP)
].map(cidr);

const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
  "metadata.azure.internal",
]);

type Kind = "public" | "internal" | "special" | "never";

const IPV4_KINDS: Record<string, Kind> = {
  unicast: "public",
  loopback: "internal",
  private: "internal",
  carrierGradeNat: "internal",
  unspecified: "never",
  broadcast: "never",
  multicast: "never",
};

const IPV6_KINDS: Record<string, Kind> = {
  unicast: "public",
  loopback: "internal",
  uniqueLocal: "internal",
  unspecified: "never",
  multicast: "never",
};

const LABELS: Record<string, string> = {
  unicast: "public address",
  loopback: "loopback address",
  private: "private (RFC 1918) address",
  uniqueLocal: "unique local (fc00::/7) address",
  carrierGradeNat: "shared (CGNAT 100.64.0.0/10) address",
  linkLocal: "link-local address",
  unspecified: "unspecified address",
  broadcast: "broadcast address",
  multicast: "multicast address",
};

interface Classified {
  kind: Kind;
  /** E.g. "loopback address 127.0.0.1", "NAT64 form of loopback address 127.0.0.1". */
  label: string;
  /** The address CIDRs are matched against (IPv4 for an IPv4-mapped IPv6 address). */
  match: Address;
}

const isMetadata = (address: Address) => METADATA_RANGES.some((range) => address.kind() === range[0].kind() && address.match(range));

function classifyIpv4(address: ipaddr.IPv4): Classified {
  const range = address.range();
  const shown = address.toString();
  if (isMetadata(address)) return { kind: "never", label: `cloud metadata address ${shown}`, match: address };
  return { kind: IPV4_KINDS[range] ?? "special", label: `${LABELS[range] ?? `special-purpose (${range}) address`} ${shown}`, match: address };
}

/** The IPv4 address inside a translation form, with the form's name. */
function embeddedIpv4(address: ipaddr.IPv6): { form: string; ipv4: ipaddr.IPv4 } | undefined {
  const p = address.parts;
  const low32 = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  switch (address.range()) {
    case "ipv4Mapped":
      return { form: "IPv4-mapped", ipv4: address.toIPv4Address() };
    case "rfc6145":
      return { form: "SIIT (RFC 6145)", ipv4: low32() };
    case "rfc6052":
      // 64:ff9b::/96 carries the address in its last 32 bits; the local-use 64:ff9b:1::/48 is judged as it is.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? { form: "NAT64", ipv4: low32() } : undefined;
    case "6to4":
      return { form: "6to4", ipv4: new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]) };
    default:
      return undefined;
  }
}

function classifyIpv6(address: ipaddr.IPv6): Classified {
  const shown = address.toString();
  if (isMetadata(address)) return { kind: "never", label: `cloud metadata address ${shown}`, match: address };
  const embedded = embeddedIpv4(address);
  if (embedded) {
    const inner = classifyIpv4(embedded.ipv4);
    // An IPv4-mapped address is the IPv4 address (dual-stack sockets report them so): CIDRs match it as IPv4.
    return { kind: inner.kind, label: `${embedded.form} form of ${inner.label}`, match: embedded.form === "IPv4-mapped" ? embedded.ipv4 : address };
  }
  const range = address.range();
  // ipaddr calls ::/8 outside its named ranges unicast; it is reserved (IPv4-compatible ::a.b.c.d and more).
  if (range === "unicast" && address.parts[0]! < 0x100) return { kind: "special", label: `reserved (::/8) address ${shown}`, match: address };
  return { kind: IPV6_KINDS[range] ?? "special", label: `${LABELS[range] ?? `special-purpose (${range}) address`} ${shown}`, match: address };
}

function classify(text: string): Classified | undefined {
  if (isIP(text) === 0) return undefined;
  const address = ipaddr.parse(text);
  return address.kind() === "ipv4" ? classifyIpv4(address as ipaddr.IPv4) : classifyIpv6(address as ipaddr.IPv6);
}

const OPT_IN = "APPGRANT_WEBHOOK_ALLOW_PRIVATE=true or APPGRANT_WEBHOOK_ALLOWED_CIDRS";

export class WebhookAddressPolicy {
  readonly #allowPrivate: boolean;
  readonly #allowed: readonly Cidr[];

  constructor(settings: WebhookPolicySettings) {
    this.#allowPrivate = settings.allowPrivate;
    this.#allowed = settings.allowedCidrs.map(cidr);
  }

  /** Whether any internal destination is open (and with it plain http). */
  get hasOptIn(): boolean {
    return this.#allowPrivate || this.#allowed.length > 0;
  }

  /** Why a connection to `address` for a URL of `protocol` is refused; undefined when it is allowed. */
  checkAddress(address: string, protocol: string): string | undefined {
    const classified = classify(address.replace(/^\[|\]$/g, ""));
    if (!classified) return `${address} is not an IP address`;
    const { kind, label, match } = classified;
    if (kind === "never") return `${label} is never a webhook destination`;
    const listed = this.#allowed.some((range) => match.kind() === range[0].kind() && match.match(range));
    const opened = listed || (kind === "internal" && this.#allowPrivate);
    if (opened) return undefined;
    if (kind === "public")
      return protocol === "https:" ? undefined : `plain http is allowed only to internal receivers opened by ${OPT_IN}; use https for ${label}`;
    if (kind === "internal") return `${label} is inside the network; to deliver there set ${OPT_IN}`;
    return `${label} is not a webhook destination unless APPGRANT_WEBHOOK_ALLOWED_CIDRS lists it`;
  }

  /**
   * Why a webhook URL is refused, judged without DNS: scheme, credentials, metadata
   * names, localhost, IP literals (the WHATWG parser has already turned 127.1,
   * 2130706433, 0x7f000001 and 0177.0.0.1 into 127.0.0.1). Undefined when allowed;
   * a name is judged again at delivery, on its addresses.
   */
  checkUrl(value: string): string | undefined {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return "must be an absolute URL";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http or https URL";
    // The receiver would get them in an Authorization header; they would also sit in the database and in listings.
    if (url.username !== "" || url.password !== "") return "must not carry credentials";
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) return this.checkAddress(host, url.protocol);
    const name = host.toLowerCase().replace(/\.+$/, "");
    if (METADATA_NAMES.has(name)) return `${name} is a cloud metadata name, never a webhook destination`;
    if (name === "localhost" || name.endsWith(".localhost")) {
      // RFC 6761: always loopback, whatever DNS says.
      return (
        this.checkAddress("127.0.0.1", url.protocol) &&
        this.checkAddress("::1", url.protocol) &&
        `${name} is a loopback name; to deliver there set ${OPT_IN}`
      );
    }
    if (url.protocol === "http:" && !this.hasOptIn) return `must use https (plain http is allowed only to internal receivers opened by ${OPT_IN})`;
    return undefined;
  }
}

/** For config.ts: a CIDR in strict notation (four-part IPv4 or IPv6), or undefined. */
export function parseCidr(text: string): string | undefined {
  const valid = text.includes(":") ? ipaddr.IPv6.isValidCIDR(text) : ipaddr.IPv4.isValidCIDRFourPartDecimal(text);
  if (!valid) return undefined;
  const [address, bits] = ipaddr.parseCIDR(text);
  return `${address.toString()}/${bits}`;
}
