import { DEFAULT_CONVERSION_GUARD, DEFAULT_POLICY, type Policy } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import {
  longestWindowMinutes,
  policyReachMinutes,
  retentionCutoff,
  STATISTICS_WINDOW_MINUTES,
  streakReachMinutes,
} from "./window.js";

const policy = (change: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...change });

describe("retention windows", () => {
  it("keeps the statistics' day even without rules or policies", () => {
    expect(longestWindowMinutes(null, [])).toBe(STATISTICS_WINDOW_MINUTES);
    expect(longestWindowMinutes(60, [])).toBe(24 * 60);
  });

  it("keeps the longest limit rule when it is longer than a day", () => {
    expect(longestWindowMinutes(3 * 24 * 60, [])).toBe(3 * 24 * 60);
  });

  it("counts every window of a policy, and the guard's reach back over a streak of suspensions", () => {
    expect(policyReachMinutes(policy({ budget: [{ minutes: 90, rate: 5 }] }))).toBe(90);
    expect(policyReachMinutes(policy({ prefix_limits: [{ digits: 6, minutes: 4000, rate: 5 }] }))).toBe(4000);
    expect(policyReachMinutes(policy({ country_limits: [{ country: "*", minutes: 50, rate: 5 }] }))).toBe(50);
    const guarded = policy({
      conversion_guard: { ...DEFAULT_CONVERSION_GUARD, window_minutes: 60, max_block_minutes: 1440 },
    });
    expect(policyReachMinutes(guarded)).toBe(60 + 2 * 1440);
    expect(longestWindowMinutes(60, [policy({}), guarded])).toBe(60 + 2 * 1440);
  });

  it("keeps, while a streak of suspensions lasts, the guard's window before its last suspension began", () => {
    const now = new Date("2030-01-10T00:00:00Z");
    const guard = { ...DEFAULT_CONVERSION_GUARD, window_minutes: 60, max_block_minutes: 60 };
    const guarded = policy({ conversion_guard: guard });
    const running = { since: new Date("2030-01-07T00:00:00Z"), until: new Date("2030-01-10T01:00:00Z") };
    expect(streakReachMinutes(now, [guarded], [running])).toBe(3 * 1440 + 60);
    // Ended 30 minutes ago: the streak still lasts (max_block_minutes 60).
    const ended = { since: running.since, until: new Date("2030-01-09T23:30:00Z") };
    expect(streakReachMinutes(now, [guarded], [ended])).toBe(3 * 1440 + 60);
    // Ended two hours ago: over.
    const over = { since: running.since, until: new Date("2030-01-09T22:00:00Z") };
    expect(streakReachMinutes(now, [guarded], [over])).toBe(0);
    expect(streakReachMinutes(now, [policy({})], [running])).toBe(0);
    expect(longestWindowMinutes(null, [guarded], 3 * 1440 + 60)).toBe(3 * 1440 + 60);
  });

  it("cuts at now − max(retention, longest window)", () => {
    const now = new Date("2030-01-10T00:00:00Z");
    expect(retentionCutoff(now, 7 * 86_400, 1440).toISOString()).toBe("2030-01-03T00:00:00.000Z");
    expect(retentionCutoff(now, 60, 1440).toISOString()).toBe("2030-01-09T00:00:00.000Z");
  });
});
