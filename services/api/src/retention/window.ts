import { type Policy, STATS_DEFAULT_SPAN_MS } from "@otp/contracts";

/**
 * The window of the statistics (`GET /stats`' default: the last 24 hours), which counts the codes
 * sent and verified: retention keeps at least that much (docs/operations.md, "Retention").
 */
export const STATISTICS_WINDOW_MINUTES = STATS_DEFAULT_SPAN_MS / 60_000;

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

/** A streak of the conversion guard's suspensions of one prefix (a `policy_block` row with strikes). */
export interface Streak {
  readonly since: Date;
  readonly until: Date;
}

/**
 * How far back the guard counts for the streaks that still last: while a prefix's streak lasts
 * (its last suspension ended at most `max_block_minutes` ago), the guard's window reaches back to
 * `window_minutes` before that suspension began, however long ago that was — the suspension may
 * have been set under a longer `max_block_minutes` than the policy says now, which
 * `policyReachMinutes` alone would not cover. Taken over every policy's guard (the largest window
 * and memory), so it can only keep more.
 */
export function streakReachMinutes(now: Date, policies: readonly Policy[], streaks: readonly Streak[]): number {
  const guards = policies.flatMap((p) => (p.conversion_guard ? [p.conversion_guard] : []));
  if (guards.length === 0) return 0;
  const memoryMs = Math.max(...guards.map((g) => g.max_block_minutes)) * 60_000;
  const window = Math.max(...guards.map((g) => g.window_minutes));
  let reach = 0;
  for (const { since, until } of streaks) {
    if (now.getTime() - until.getTime() > memoryMs) continue;
    reach = Math.max(reach, Math.ceil((now.getTime() - since.getTime()) / 60_000) + window);
  }
  return reach;
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
 * window)`, so that no window ever undercounts whatever OTP_RETENTION says.
 */
export function retentionCutoff(now: Date, retentionSeconds: number, longestMinutes: number): Date {
  return new Date(now.getTime() - Math.max(retentionSeconds, longestMinutes * 60) * 1000);
}
