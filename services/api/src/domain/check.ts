import { hash } from "node:crypto";
import { type Channel, digestPassword, randomBlocks } from "@otp/contracts";
import type { CheckRow } from "@otp/db";
import type { DomainDeps } from "./deps.js";

/**
 * `match`: the code is right. `mismatch`: wrong, or nothing to check. `attempts_exceeded`: every
 * unexpired code of the target is dead of its failures. `check_throttled`: the target's (or the
 * address's) failure budget is spent and its delay is running; nothing was compared.
 */
export type CheckOutcome = "match" | "mismatch" | "attempts_exceeded" | "check_throttled";

export interface CheckRequest {
  readonly channel: Channel;
  readonly target: string;
  readonly password: string;
  /** The end user's address, when the caller gave it. */
  readonly ip?: string | undefined;
  /** The check by id (`POST /otp/{id}/check`): only this OTP's code can match. */
  readonly only?: string | undefined;
}

export interface CheckResult {
  readonly outcome: CheckOutcome;
  /** For `check_throttled`: seconds until the delay ends, at least 1. */
  readonly retryAfterSeconds?: number;
  /** The checked OTP's wrong checks left (check by id; null without OTP_MAX_CHECK_ATTEMPTS). */
  readonly attemptsLeft: number | null;
  /** A code's first right check: seconds since it was created (`otp_time_to_verify_seconds`). */
  readonly verifiedSeconds?: number;
}

/**
 * Checks a code: one round trip, `otp_check` (`check` in packages/db/src/sql/otp.ts, which also
 * explains the constant-time comparison). It takes an advisory lock on the channel and target
 * before it reads, so concurrent checks of one target, on any replica, run one after the other:
 * a burst of parallel guesses cannot all be compared before the first failures are counted.
 */
export function createChecker(deps: DomainDeps) {
  const { maxCheckAttempts, singleUse } = deps.otp;
  const { checkThrottleAfter } = deps.guessing;
  const nextNonce = randomBlocks(16);

  return async function check(request: CheckRequest): Promise<CheckResult> {
    const digest = digestPassword(deps.keys, request.password);
    const nonce = nextNonce();
    // One-shot: a Hash object per check cost twice as much for 48 bytes.
    const blinded = hash("sha256", Buffer.concat([digest, nonce]), "buffer");
    const { rows } = await deps.pool.query<CheckRow>(
      deps.sql.otp.check({
        channel: request.channel,
        target: request.target,
        ip: request.ip ?? null,
        now: deps.clock(),
        nonce,
        blinded,
        maxFailures: maxCheckAttempts,
        singleUse,
        throttleAfter: checkThrottleAfter,
        only: request.only ?? null,
      }),
    );
    const row = rows[0] as CheckRow;
    const result: CheckResult = { outcome: row.outcome, attemptsLeft: row.attempts_left };
    if (row.verified_seconds !== null) return { ...result, verifiedSeconds: Number(row.verified_seconds) };
    if (row.outcome !== "check_throttled") return result;
    return { ...result, retryAfterSeconds: Math.max(1, Math.ceil(Number(row.retry_after_ms) / 1000)) };
  };
}

export type Checker = ReturnType<typeof createChecker>;
