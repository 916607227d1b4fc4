import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { invalidArgument } from "../errors.js";

/**
 * Where webhooks may go. Without `allowPrivateNetworks` only https URLs whose
 * host resolves to public unicast addresses are accepted: loopback, private,
 * link-local, unique-local, multicast, carrier-grade NAT, reserved, and the
 * IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are
 * refused, so a tenant cannot make roomgate call into its own network. The
 * check runs at creation and again at every delivery (DNS may change), and
 * the delivery connects to the very address that was checked.
 */
export interface AddressPolicy {
  readonly allowPrivateNetworks: boolean;
}

/** Longest URL accepted. */
export const MAX_URL_BYTES = 2048;

/** Why a URL or an address was refused. */
export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeUrlError";
  }
}

/** Resolves a host name to its addresses (tests may inject one). */
export type Resolver = (host: string) => Promise<readonly { address: string; family: number }[]>;

/** Node's resolver (getaddrinfo: /etc/hosts, then DNS), every address. */
export const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/** Parses and checks the URL's form; invalid_argument naming `url` otherwise. */
export function checkUrlForm(raw: string, policy: AddressPolicy): URL {
  if (raw === "") throw invalidArgument("url: must not be empty");
  if (Buffer.byteLength(raw, "utf8") > MAX_URL_BYTES) throw invalidArgument(`url: longer than ${MAX_URL_BYTES} bytes`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument("url: not an absolute URL");
  }
  const schemes = policy.allowPrivateNetworks ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol))
    throw invalidArgument(`url: must be ${policy.allowPrivateNetworks ? "http or https" : "https"}`);
  if (url.username !== "" || url.password !== "") throw invalidArgument("url: must not contain credentials");
  if (url.hash !== "") throw invalidArgument("url: must not contain a fragment");
  return url;
}

/** True when `address` is a public unicast address (or private ones are allowed). */
export function addressAllowed(address: string, policy: AddressPolicy): boolean {
  if (policy.allowPrivateNetworks) return true;
  if (!ipaddr.isValid(address)) return false;
  // process() turns an IPv4-mapped IPv6 address into the IPv4 it carries.
  const ip = ipaddr.process(address);
  return ip.range() === "unicast";
}

/**
 * Resolves the URL's host and checks every address; returns the first (the
 * one to connect to). Throws {@link UnsafeUrlError} when the host does not
 * resolve or any address is refused (a host with one private address among
 * public ones is refused too: the client could be steered to it).
 */
export async function resolveChecked(
  url: URL,
  policy: AddressPolicy,
  resolve: Resolver,
): Promise<{ address: string; family: number }> {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: readonly { address: string; family: number }[];
  if (ipaddr.isValid(host)) {
    addresses = [{ address: host, family: host.includes(":") ? 6 : 4 }];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new UnsafeUrlError(`host ${JSON.stringify(host)} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new UnsafeUrlError(`host ${JSON.stringify(host)} does not resolve`);
  for (const a of addresses) {
    if (!addressAllowed(a.address, policy)) {
      throw new UnsafeUrlError(
        `host ${JSON.stringify(host)} resolves to ${a.address}, a loopback, private, link-local or otherwise non-public address`,
      );
    }
  }
  return addresses[0]!;
}
