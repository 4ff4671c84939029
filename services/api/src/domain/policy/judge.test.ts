import { DEFAULT_CONVERSION_GUARD, DEFAULT_POLICY, type Policy } from "@otp/contracts";
import type { PolicyCountsRow } from "@otp/db";
import { describe, expect, it } from "vitest";
import { judgeCounts, judgeLists, planOf } from "./judge.js";

const now = new Date("2026-05-01T12:00:00Z");
const target = "77011234567";
const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, mode: "enforce", ...p });
const row = (r: Partial<PolicyCountsRow>): PolicyCountsRow => ({
  budget_counts: [],
  country_counts: [],
  prefix_counts: [],
  guard_sent: null,
  guard_verified: null,
  guard_strikes: null,
  guard_until: null,
  suspended_prefix: null,
  suspended_until: null,
  ...r,
});

describe("judgeLists", () => {
  it("the safelist first, then countries, then prefixes", () => {
    const p = policy({ safelist: [target], countries: { allow: ["UZ"], deny: [] }, prefixes: { deny: ["7701"] } });
    expect(judgeLists(p, "sms", target, "KZ")).toBe("safelist");
    expect(judgeLists(p, "sms", "77011234568", "KZ")).toMatchObject({ rule: "countries" });
    expect(judgeLists({ ...p, countries: { allow: [], deny: [] } }, "sms", "77011234568", "KZ")).toMatchObject({
      rule: "prefixes",
      refusal: { code: "destination_blocked", message: "Prefix 7701 is denied for sms" },
    });
    expect(judgeLists(DEFAULT_POLICY, "sms", target, "KZ")).toBeUndefined();
  });
});

describe("judgeCounts", () => {
  const all = policy({
    budget: [{ minutes: 60, rate: 10 }],
    country_limits: [{ country: "*", minutes: 60, rate: 5 }],
    prefix_limits: [{ digits: 6, minutes: 60, rate: 3 }],
    conversion_guard: { ...DEFAULT_CONVERSION_GUARD, min_sent: 4, block_minutes: 10, max_block_minutes: 30 },
  });
  const plan = planOf(all, "sms", target, "KZ", now);

  it("asks for each window, the guard's prefix and every prefix of the number", () => {
    expect(plan.params).toMatchObject({
      budgetCaps: [10],
      countryCaps: [5],
      prefixes: ["770112"],
      guardPrefix: "770112",
      guardRipe: new Date(now.getTime() - 180_000),
    });
    expect(plan.params.targetPrefixes).toEqual(Array.from({ length: 11 }, (_, i) => target.slice(0, i + 1)));
  });

  it("in order: budget, country limits, prefix limits, a suspension, the guard", () => {
    const full = { budget_counts: [10], country_counts: [5], prefix_counts: [3] };
    const later = new Date(now.getTime() + 60_000);
    const guard = { guard_sent: 4, guard_verified: 0, suspended_prefix: "7701", suspended_until: later };
    expect(judgeCounts(plan, row({ ...full, ...guard }), now)?.rule).toBe("budget");
    expect(judgeCounts(plan, row({ ...full, budget_counts: [9], ...guard }), now)?.rule).toBe("country_limits");
    expect(
      judgeCounts(plan, row({ budget_counts: [9], country_counts: [4], prefix_counts: [3], ...guard }), now)?.rule,
    ).toBe("prefix_limits");
    expect(judgeCounts(plan, row(guard), now)).toMatchObject({
      rule: "suspension",
      refusal: { code: "prefix_suspended", retryAfterSeconds: 60 },
    });
    expect(judgeCounts(plan, row({ ...guard, suspended_prefix: null, suspended_until: null }), now)).toMatchObject({
      rule: "conversion_guard",
      trip: { prefix: "770112", sent: 4, verified: 0, strikes: 1 },
      refusal: { retryAfterSeconds: 600 },
    });
    expect(judgeCounts(plan, row({ guard_sent: 4, guard_verified: 1 }), now)).toBeUndefined(); // 0.25 ≥ 0.2
    expect(judgeCounts(plan, row({ guard_sent: 3, guard_verified: 0 }), now)).toBeUndefined(); // below min_sent
  });

  it("does not trip at exactly the threshold, whatever floating point makes of it", () => {
    const at7 = policy({ conversion_guard: { ...DEFAULT_CONVERSION_GUARD, min_sent: 20, min_conversion: 0.07 } });
    const p = planOf(at7, "sms", target, "KZ", now);
    expect(judgeCounts(p, row({ guard_sent: 100, guard_verified: 7 }), now)).toBeUndefined(); // 0.07 * 100 > 7
    expect(judgeCounts(p, row({ guard_sent: 100, guard_verified: 6 }), now)?.rule).toBe("conversion_guard");
  });

  it("doubles a repeat up to max_block_minutes, and forgets a streak that ended long ago", () => {
    const trip = (strikes: number | null, endedMinutesAgo: number) =>
      judgeCounts(
        plan,
        row({
          guard_sent: 4,
          guard_verified: 0,
          guard_strikes: strikes,
          guard_until: strikes === null ? null : new Date(now.getTime() - endedMinutesAgo * 60_000),
        }),
        now,
      )?.trip?.strikes;
    expect(trip(null, 0)).toBe(1);
    expect(trip(1, 5)).toBe(2);
    expect(trip(2, 5)).toBe(3);
    expect(trip(0, 5)).toBe(1); // lifted
    expect(trip(3, 31)).toBe(1);
    const third = judgeCounts(plan, row({ guard_sent: 4, guard_verified: 0, guard_strikes: 2, guard_until: now }), now);
    expect(third?.refusal.retryAfterSeconds).toBe(30 * 60); // 40 minutes, capped at 30
  });
});
