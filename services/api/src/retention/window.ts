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

/**
 * The longest window any count over the `otp` rows currently looks back: limit rules, the stored
 * policies (whatever their mode: switching one to `enforce` must find its windows full), and the
 * statistics.
 */
export function longestWindowMinutes(limitMinutes: number | null, policies: readonly Policy[]): number {
  return Math.max(STATISTICS_WINDOW_MINUTES, limitMinutes ?? 0, ...policies.map(policyReachMinutes));
}

/**
 * Where a pass deletes up to: rows whose code expired before it go. `now − max(retention, longest
 * window)`, so that no window ever undercounts whatever OTP_RETENTION says.
 */
export function retentionCutoff(now: Date, retentionSeconds: number, longestMinutes: number): Date {
  return new Date(now.getTime() - Math.max(retentionSeconds, longestMinutes * 60) * 1000);
}
