import { type Channel, REUSE_MIN_LEFT_SECONDS } from "@otp/contracts";
import type { LiveParams } from "./otp.js";
import { secondsInterval, statement } from "./statement.js";

/** OTP_RESEND=reuse: the live code to send again, if any. */
export interface ReusableRow {
  readonly reused_id: string;
  readonly reused_cipher: Buffer;
  readonly reused_generated: boolean;
  readonly reused_expire_at: Date;
}

/**
 * OTP_RESEND=reuse (docs/security.md, "Resends and single use"): the live code sent again is a new
 * OTP row with the old code, and it is the same code to whoever guesses it, so it keeps the old
 * row's wrong checks: five guesses, then a resend, must not buy five more.
 */
export function reuseSql(fn: (name: string) => string, otp: string, outbox: string) {
  return {
    /**
     * Locks the target (until the transaction ends) and reads its newest live code, not yet
     * verified, if that has more than a minute to live. Row: {@link ReusableRow}.
     */
    reusable: statement<LiveParams & { channel: Channel; target: string }>(
      ["channel", "target", "now", "maxFailures"],
      (p) => `SELECT reused_id, reused_cipher, reused_generated, reused_expire_at
FROM ${fn("otp_reusable")}(${p.channel}::text, ${p.target}::text, ${p.now}::timestamptz,
  ${secondsInterval(REUSE_MIN_LEFT_SECONDS)}, ${p.maxFailures}::int)`,
    ),

    /**
     * The copy `to` takes the wrong checks of the code it re-sends, `from` (same transaction,
     * target locked), and so do the `otp.created` webhook events its create wrote a moment before:
     * their `attempts_left` was counted from a copy with none (docs/webhooks.md).
     */
    carryFailures: statement<{ from: string; to: string; maxFailures: number }>(
      ["from", "to", "maxFailures"],
      (p) => `WITH copy AS (
  UPDATE ${otp} AS copy SET failed_checks = original.failed_checks
  FROM ${otp} AS original WHERE copy.id = ${p.to}::uuid AND original.id = ${p.from}::uuid
  RETURNING copy.id, copy.failed_checks
)
UPDATE ${outbox} AS e
SET event = jsonb_set(e.event, '{payload,data,verification,attempts_left}',
  to_jsonb(greatest(${p.maxFailures}::int - copy.failed_checks, 0)))
FROM copy
WHERE ${p.maxFailures}::int > 0 AND e.otp_id = copy.id AND e.channel = 'webhook'
  AND e.event ->> 'type' = 'otp.created' AND e.event #> '{payload,data,verification}' ? 'attempts_left'`,
    ),
  };
}
