/**
 * How a stop's time is shared out. The process force-exits FORCE_EXIT_MS (9 s) after SIGTERM (an
 * orchestrator's 10 s grace, minus a second for the exit itself); close() works to one deadline well
 * inside that:
 *
 *   request drain      ≤ 5.0 s  (DRAIN_MS; whatever is still busy then is cut)
 *   relay + publishes  ≤ 1.5 s  after the longest drain: what is left before the broker's share,
 *                               relay.stop(t) taking at most t + ABANDON_GRACE_MS
 *   broker close       ≤ 1.0 s  (BROKER_CLOSE_MS, passed to ManagedConnection as closeTimeoutMs)
 *   ─────────────────────────
 *   CLOSE_BUDGET_MS      7.5 s, leaving 1.5 s for pool.end() and the log line before the 9 s exit.
 *
 * A stop whose drain is quick leaves the relay the time the drain did not use, not a fixed 3 s.
 */
export const CLOSE_BUDGET_MS = 7_500;
export const DRAIN_MS = 5_000;
export const BROKER_CLOSE_MS = 1_000;

/**
 * The time left, at `now`, for flushing outbox work (the relay's pass and the after-commit
 * publishes), so that the broker close still fits before `deadline`. Never negative.
 */
export function flushTimeoutMs(deadline: number, now: number): number {
  return Math.max(0, deadline - now - BROKER_CLOSE_MS);
}
