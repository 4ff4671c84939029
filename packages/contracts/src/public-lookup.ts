import { lookup as dnsLookup, type LookupAddress } from "node:dns";
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
 * A `lookup` for http(s) agents: resolves names as usual but refuses any that resolve to a
 * non-public address, so the connection is made only to an address that was checked. Node does not
 * call it for an address literal: check those with {@link literalAddress} first.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused || addresses.length === 0) {
      const problem = new Error("the host resolves to a non-public address");
      return callback(Object.assign(problem, { code: NOT_PUBLIC }), "", 0);
    }
    const first = addresses[0] as LookupAddress;
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, first.address, first.family);
  });
};

/** The host of a URL as an address when it is one (`[::1]` → `::1`), else undefined. */
export function literalAddress(host: string): string | undefined {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  return isIP(bare) ? bare : undefined;
}
