import { DEFAULT_CONVERSION_GUARD, DEFAULT_POLICY, type Policy } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import {
  CLOCK_SKEW_LIMIT_MS,
  excessClockSkewMs,
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
    // The database gives the start of the earliest streak still lasting (null: none lasts).
    const since = new Date("2030-01-07T00:00:00Z");
    expect(streakReachMinutes(now, [guarded], since)).toBe(3 * 1440 + 60);
    expect(streakReachMinutes(now, [guarded], null)).toBe(0);
    expect(streakReachMinutes(now, [policy({})], since)).toBe(0);
    // The largest window of any guard.
    const wide = policy({ conversion_guard: { ...guard, window_minutes: 600 } });
    expect(streakReachMinutes(now, [guarded, wide], since)).toBe(3 * 1440 + 600);
    expect(longestWindowMinutes(null, [guarded], 3 * 1440 + 60)).toBe(3 * 1440 + 60);
  });

  it("cuts at now − max(retention, longest window) − the clock skew limit", () => {
    const now = new Date("2030-01-10T00:00:00Z");
    expect(CLOCK_SKEW_LIMIT_MS).toBe(60_000);
    expect(retentionCutoff(now, 7 * 86_400, 1440).toISOString()).toBe("2030-01-02T23:59:00.000Z");
    expect(retentionCutoff(now, 60, 1440).toISOString()).toBe("2030-01-08T23:59:00.000Z");
  });

  it("lets a pass run unless the process clock is more than a minute ahead of the database's", () => {
    const db = new Date("2030-01-10T00:00:00Z");
    const at = (ms: number) => new Date(db.getTime() + ms);
    expect(excessClockSkewMs(at(0), db)).toBeUndefined();
    expect(excessClockSkewMs(at(60_000), db)).toBeUndefined();
    expect(excessClockSkewMs(at(-60_000), db)).toBeUndefined();
    expect(excessClockSkewMs(at(60_001), db)).toBe(60_001);
    // Behind, it only deletes less: no reason to stop.
    expect(excessClockSkewMs(at(-2 * 86_400_000), db)).toBeUndefined();
  });
});
