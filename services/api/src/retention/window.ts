import { type Policy, STATS_DEFAULT_SPAN_MS } from "@otp/contracts";

/**
 * The window of the statistics (`GET /stats`' default: the last 24 hours), which counts the codes
 * sent and verified: retention keeps at least that much (docs/operations.md, "Retention").
 */
export const STATISTICS_WINDOW_MINUTES = STATS_DEFAULT_SPAN_MS / 60_000;

/**
 * How far the process clock may be from the database's for a pass to run. Each replica counts its
 * windows back from its own clock, and deleted rows never come back: a pass on a clock further
 * ahead would delete rows the others still count, so it is skipped. Within it, the cutoff is taken
 * from the earlier clock and this much further back, so no replica that close to the database's
 * time loses a row its windows count.
 */
export const CLOCK_SKEW_LIMIT_MS = 60_000;

/**
 * How far back a destination policy counts codes (docs/policy.md): its budget, prefix and country
 * windows, and the conversion guard's window, which while a streak of suspensions lasts reaches
 * back to the start of the window that tripped the last one: that suspension began at most
 * `max_block_minutes` before it ended, and it ended at most `max_block_minutes` ago.
 */
export function policyReachMinutes(policy: Policy): number {
  const rules = [...policy.budget, ...policy.prefix_limits, ...policy.country_limits].map((r) => r.minutes);
  const guard = policy.conversion_guard;
  const guardReach = guard ? guard.window_minutes + 2 * guard.max_block_minutes : 0;
  return Math.max(0, guardReach, ...rules);
}

/**
 * How far back the guard counts for the streaks that still last, given when the earliest of them
 * began (`since`; the database picks it: the streaks whose last suspension ended at most the
 * largest `max_block_minutes` of any guard ago): the guard's window reaches back to
 * `window_minutes` before that suspension began, however long ago that was — the suspension may
 * have been set under a longer `max_block_minutes` than the policy says now, which
 * `policyReachMinutes` alone would not cover. Taken with every policy's largest guard window, so
 * it can only keep more.
 */
export function streakReachMinutes(now: Date, policies: readonly Policy[], since: Date | null): number {
  const windows = policies.flatMap((p) => (p.conversion_guard ? [p.conversion_guard.window_minutes] : []));
  if (windows.length === 0 || since === null) return 0;
  return Math.max(0, Math.ceil((now.getTime() - since.getTime()) / 60_000)) + Math.max(...windows);
}

/**
 * The longest window any count over the `otp` rows currently looks back: limit rules, the stored
 * policies (whatever their mode: switching one to `enforce` must find its windows full), the
 * guard's running streaks, and the statistics.
 */
export function longestWindowMinutes(
  limitMinutes: number | null,
  policies: readonly Policy[],
  streakMinutes = 0,
): number {
  return Math.max(STATISTICS_WINDOW_MINUTES, limitMinutes ?? 0, streakMinutes, ...policies.map(policyReachMinutes));
}

/**
 * Where a pass deletes up to: rows whose code expired before it go. `now − max(retention, longest
 * window) − CLOCK_SKEW_LIMIT_MS`, `now` being the earlier of the process's and the database's
 * clocks, so that no window ever undercounts whatever OTP_RETENTION says, on any replica whose
 * clock is within the limit.
 */
export function retentionCutoff(now: Date, retentionSeconds: number, longestMinutes: number): Date {
  return new Date(now.getTime() - Math.max(retentionSeconds, longestMinutes * 60) * 1000 - CLOCK_SKEW_LIMIT_MS);
}

/**
 * How far the process clock is ahead of the database's, or undefined when that is within
 * {@link CLOCK_SKEW_LIMIT_MS} and a pass may run. A clock behind only deletes less (the cutoff
 * takes the earlier clock), so it never stops a pass.
 */
export function excessClockSkewMs(clockNow: Date, databaseNow: Date): number | undefined {
  const skew = clockNow.getTime() - databaseNow.getTime();
  return skew > CLOCK_SKEW_LIMIT_MS ? skew : undefined;
}
