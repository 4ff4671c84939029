import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * IP addresses in one canonical form, so that one address is one limit key however it is spelt:
 * IPv4 dotted decimal; IPv6 compressed and lower-case (RFC 5952); an IPv4-mapped IPv6 address
 * (`::ffff:203.0.113.7`, `::ffff:cb00:7107`) as the IPv4 address it maps.
 */

/** The longest text form of an address: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
export const MAX_IP_LENGTH = 45;

/** `::a.b.c.d`, which ipaddr.js reads as IPv4-mapped although it is the IPv4-compatible `::hhhh:hhhh`. */
const IPV4_COMPATIBLE = /^::(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/**
 * The canonical form of `value`, or undefined when it is not an address: node's strict `isIP`
 * decides what is one (ipaddr.js alone accepts `1.2.3` and `0x7f.0.0.1`). A zone (`fe80::1%eth0`)
 * is not part of an address the service could compare, so it is refused.
 */
export function canonicalIp(value: string): string | undefined {
  if (value.length > MAX_IP_LENGTH || value.includes("%")) return undefined;
  const family = isIP(value);
  if (family === 4) return ipaddr.IPv4.parse(value).toString();
  if (family !== 6) return undefined;
  const compatible = IPV4_COMPATIBLE.exec(value);
  const address = compatible
    ? new ipaddr.IPv6([0, 0, 0, 0, 0, 0, ...pairs(compatible.slice(1).map(Number))])
    : ipaddr.IPv6.parse(value);
  return address.isIPv4MappedAddress() ? address.toIPv4Address().toString() : address.toRFC5952String();
}

/** Four octets as two 16-bit groups. */
function pairs([a = 0, b = 0, c = 0, d = 0]: number[]): [number, number] {
  return [(a << 8) | b, (c << 8) | d];
}

/**
 * True for an address on the public internet (ipaddr.js's `unicast` range): not loopback, private,
 * link-local, unique-local, carrier-grade NAT, multicast, reserved or unspecified, IPv4-mapped
 * IPv6 judged as the IPv4 address it maps. What the pre-send hook may reach without
 * `OTP_PRESEND_HOOK_ALLOW_PRIVATE` (docs/policy.md, "The pre-send hook").
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address);
  // ipaddr.js has no range for the deprecated IPv4-compatible `::/96` (`::7f00:1`, `::10.0.0.1`),
  // which it calls unicast: judged as the IPv4 address it embeds, as `canonicalIp` reads it.
  if (parsed.kind() === "ipv6") {
    const parts = (parsed as ipaddr.IPv6).parts;
    if (parts.slice(0, 6).every((p) => p === 0)) {
      const [hi = 0, lo = 0] = parts.slice(6);
      return ipaddr.fromByteArray([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]).range() === "unicast";
    }
  }
  return parsed.range() === "unicast";
}
