import { describe, expect, it } from "vitest";
import { isPublicAddress } from "./ip.js";

describe("isPublicAddress", () => {
  it("refuses loopback, private, link-local and unique-local addresses, IPv4 and IPv6", () => {
    for (const address of ["127.0.0.1", "10.1.2.3", "192.168.1.10", "169.254.169.254", "::1", "fd00::1", "fe80::1"]) {
      expect(isPublicAddress(address)).toBe(false);
    }
    expect(isPublicAddress("203.0.114.7")).toBe(true);
    expect(isPublicAddress("2a00:1450:4001:80e::200e")).toBe(true);
  });

  it("judges an IPv4-mapped or IPv4-compatible IPv6 address as the IPv4 address inside", () => {
    for (const address of ["::ffff:10.0.0.1", "::7f00:1", "::10.0.0.1", "::a9fe:a9fe", "::"]) {
      expect(isPublicAddress(address)).toBe(false);
    }
    expect(isPublicAddress("::ffff:8.8.8.8")).toBe(true);
    expect(isPublicAddress("::808:808")).toBe(true);
  });
});
