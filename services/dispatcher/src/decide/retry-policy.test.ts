import { RETRY_DELAYS_MS } from "@otp/broker";
import { describe, expect, it } from "vitest";
import { RetryPolicy } from "./retry-policy.js";

const FAR = Number.MAX_SAFE_INTEGER;

describe("RetryPolicy", () => {
  it("without jitter (random = 0.5) waits 1 s · 2^(n-1) on the production tiers", () => {
    const p = new RetryPolicy({ maxAttempts: 12, random: () => 0.5 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => p.jitteredTier(n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000,
    ]);
    expect(p.jitteredTier(11)).toBe(512_000); // capped at the longest tier
    expect(p.tiersMs).toEqual(RETRY_DELAYS_MS);
  });

  it("jitters over adjacent tiers, averaging the nominal delay", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const p = new RetryPolicy({ maxAttempts: 12, random });
    const draws = Array.from({ length: 4_000 }, () => p.jitteredTier(4)); // nominal 8 s
    expect(new Set(draws)).toEqual(new Set([4_000, 8_000, 16_000]));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(mean).toBeGreaterThan(7_400);
    expect(mean).toBeLessThan(8_600);
  });

  it("stops at OTP_DELIVERY_MAX_ATTEMPTS", () => {
    const p = new RetryPolicy({ maxAttempts: 3, random: () => 0.5 });
    expect(p.decide(2, 0, FAR)).toEqual({ kind: "retry", delayMs: 2_000 });
    expect(p.decide(3, 0, FAR)).toEqual({ kind: "exhausted" });
  });

  it("never lands at or past the expiry: a shorter tier that fits, else expired now", () => {
    const p = new RetryPolicy({ maxAttempts: 10, random: () => 0.5 });
    // attempt 5 wants 16 s but only 10 s are left: the 8 s tier.
    expect(p.decide(5, 0, 10_000)).toEqual({ kind: "retry", delayMs: 8_000 });
    expect(p.decide(1, 0, 1_000)).toEqual({ kind: "expired" }); // 1 s would land exactly at expiry
    expect(p.decide(1, 0, 999)).toEqual({ kind: "expired" });
    expect(p.decide(1, 0, 1_001)).toEqual({ kind: "retry", delayMs: 1_000 });
  });

  it("honours a longer Retry-After with the smallest tier that covers it", () => {
    const p = new RetryPolicy({ maxAttempts: 10, random: () => 0.5 });
    expect(p.decide(1, 0, FAR, 5_000)).toEqual({ kind: "retry", delayMs: 8_000 });
    expect(p.decide(3, 0, FAR, 1_000)).toEqual({ kind: "retry", delayMs: 4_000 });
    expect(p.decide(1, 0, FAR, 10_000_000)).toEqual({ kind: "retry", delayMs: 512_000 });
  });
});
