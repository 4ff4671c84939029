import { RETRY_DELAYS_MS } from "@otp/broker";

/**
 * When to try again after attempt `n` (1-based) failed transiently.
 *
 * Nominal delay: tiers[0] · 2^(n-1) (1 s, 2 s, 4 s … with the production tiers). Jitter: the
 * delay is drawn uniformly from ±50 % of the nominal one, then mapped onto the fixed delay queues
 * (one queue per tier, each with its own TTL) by stochastic rounding: a draw between two tiers
 * a < d < b goes to b with probability (d-a)/(b-a), else to a. On average the wait is the jittered
 * delay, and failures that happened together (a provider outage) come back spread over two or
 * three tiers instead of in one wave. A 429/503 Retry-After longer than that is honoured with the
 * smallest tier that covers it.
 *
 * Never past the OTP's expiry: when the chosen tier would land at or after `expire_at`, the longest
 * tier that still lands before it is used instead (one more chance while the code is valid); when
 * not even the shortest one does, the delivery is recorded `expired` now.
 */
export interface RetryPolicyOptions {
  /** The delay queues' TTLs, ascending. Production: RETRY_DELAYS_MS; tests inject short ones. */
  readonly tiersMs?: readonly number[];
  readonly maxAttempts: number;
  /** [0, 1); injected by tests for deterministic tiers. */
  readonly random?: () => number;
}

export type RetryDecision =
  | { readonly kind: "retry"; readonly delayMs: number }
  | { readonly kind: "exhausted" }
  | { readonly kind: "expired" };

export class RetryPolicy {
  readonly tiersMs: readonly number[];
  readonly maxAttempts: number;
  readonly #random: () => number;

  constructor(options: RetryPolicyOptions) {
    const tiers = [...(options.tiersMs ?? RETRY_DELAYS_MS)].sort((a, b) => a - b);
    if (tiers.length === 0 || tiers.some((t) => !Number.isInteger(t) || t <= 0)) {
      throw new Error("retry tiers must be positive integers (ms)");
    }
    this.tiersMs = tiers;
    this.maxAttempts = options.maxAttempts;
    this.#random = options.random ?? Math.random;
  }

  /** The decision after attempt `attempt` failed transiently at `nowMs`. */
  decide(attempt: number, nowMs: number, expireAtMs: number, retryAfterMs?: number): RetryDecision {
    if (attempt >= this.maxAttempts) return { kind: "exhausted" };
    let delay = this.jitteredTier(attempt);
    if (retryAfterMs !== undefined && retryAfterMs > delay) delay = this.#tierCovering(retryAfterMs);
    if (nowMs + delay < expireAtMs) return { kind: "retry", delayMs: delay };
    const fitting = this.tiersMs.filter((t) => nowMs + t < expireAtMs);
    const longest = fitting.at(-1);
    return longest === undefined ? { kind: "expired" } : { kind: "retry", delayMs: longest };
  }

  /** The nominal delay of attempt n, jittered and rounded onto a tier. */
  jitteredTier(attempt: number): number {
    const tiers = this.tiersMs;
    const first = tiers[0] as number;
    const last = tiers.at(-1) as number;
    const nominal = first * 2 ** Math.max(0, attempt - 1);
    const jittered = nominal * (0.5 + this.#random());
    if (jittered <= first) return first;
    if (jittered >= last) return last;
    const upper = tiers.findIndex((t) => t >= jittered);
    const b = tiers[upper] as number;
    const a = tiers[upper - 1] as number;
    if (b === jittered) return b;
    return this.#random() < (jittered - a) / (b - a) ? b : a;
  }

  #tierCovering(ms: number): number {
    return this.tiersMs.find((t) => t >= ms) ?? (this.tiersMs.at(-1) as number);
  }
}
