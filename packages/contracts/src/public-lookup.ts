import type { LookupAddress } from "node:dns";
import { Resolver } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import { isPublicAddress } from "./ip.js";

/**
 * Outgoing requests to addresses someone else chose (the pre-send hook, the lifecycle's webhooks)
 * must not reach inside the network: a server-side request forgery would read what is sent, or
 * reach an internal service. Checked where the address is used, not only where the URL is given,
 * so that a name resolving elsewhere later (DNS rebinding) is refused too (docs/security.md).
 */

/** The error code of a connection refused by {@link publicOnlyLookup}. */
export const NOT_PUBLIC = "ENOTPUBLIC";

/**
 * Such names are resolved by querying DNS (c-ares), not by the system's `getaddrinfo`: Node runs
 * `getaddrinfo` on its small thread pool, at most two at a time, and cannot cancel one, so a
 * receiver's domain whose name servers never answer would hold those threads for seconds each, and
 * every other name lookup of the process — the providers', PostgreSQL's, RabbitMQ's — would wait
 * behind them. A query here gives up after two seconds per name server and holds no thread. It
 * reads `/etc/resolv.conf`, not `/etc/hosts`: a name only `/etc/hosts` knows does not resolve
 * (docs/webhooks.md, "Private addresses").
 */
export function publicLookups(resolver: Resolver = new Resolver({ timeout: 2_000, tries: 1 })) {
  /** Every address `hostname` resolves to, IPv4 first; rejects (with the IPv4 query's error) when none. */
  async function resolveAddresses(hostname: string): Promise<LookupAddress[]> {
    if (isLocalhost(hostname)) return [...LOOPBACK];
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const addresses: LookupAddress[] = [
      ...(v4.status === "fulfilled" ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === "fulfilled" ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (addresses.length > 0) return addresses;
    throw v4.status === "rejected" ? asLookupError(v4.reason) : notFound();
  }

  /**
   * A `lookup` for http(s) agents: resolves names (resolveAddresses) but refuses any that resolve
   * to a non-public address, so the connection is made only to an address that was checked. Node
   * does not call it for an address literal: check those with {@link literalAddress} first.
   */
  const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
    resolveAddresses(hostname).then(
      (addresses) => {
        if (addresses.some((a) => !isPublicAddress(a.address))) {
          const problem = new Error("the host resolves to a non-public address");
          return callback(Object.assign(problem, { code: NOT_PUBLIC }), "", 0);
        }
        const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
        const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
        const first = usable[0];
        if (first === undefined) return callback(notFound(), "", 0);
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
  return { resolveAddresses, publicOnlyLookup };
}

const notFound = () => Object.assign(new Error("no address"), { code: "ENOTFOUND" });

/**
 * A query's failure in `getaddrinfo`'s terms, as a lookup reports it: `ENOTFOUND` for a name without
 * addresses, `EAI_AGAIN` for any other (a name server down, refusing or silent). Passed on as
 * they are, c-ares' `ECONNREFUSED` or `ETIMEOUT` would read, in a webhook's last error, as the
 * receiver refusing the connection or timing out.
 */
function asLookupError(error: NodeJS.ErrnoException): NodeJS.ErrnoException {
  const code = error.code === "ENOTFOUND" || error.code === "ENODATA" ? "ENOTFOUND" : "EAI_AGAIN";
  return Object.assign(new Error(`name lookup failed (${code})`), { code });
}

/** `localhost` and its subdomains are loopback without asking DNS (RFC 6761), as `getaddrinfo` has them. */
const LOOPBACK: readonly LookupAddress[] = [
  { address: "127.0.0.1", family: 4 },
  { address: "::1", family: 6 },
];
const isLocalhost = (name: string) => /(^|\.)localhost\.?$/i.test(name);

/** The process's: the system's name servers. */
export const { resolveAddresses, publicOnlyLookup } = publicLookups();

/** The host of a URL as an address when it is one (`[::1]` → `::1`), else undefined. */
export function literalAddress(host: string): string | undefined {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  return isIP(bare) ? bare : undefined;
}
