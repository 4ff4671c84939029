import type { Tables } from "../schema.js";
import { qualifiedFunction, qualifiedName, statement } from "./statement.js";

/** What `cancel` did (`otp_cancel`, migration 0008). Row: `result`, `status`; none for an unknown id. */
export interface CancelRow {
  readonly result: "canceled" | "already" | "refused";
  /** The verification status the OTP has now. */
  readonly status: string;
}

/** A destination policy refusal, for `otp.blocked`. */
export interface BlockedParams {
  readonly at: Date;
  readonly channel: string;
  /** The full target: masked by SQL (`otp_mask_target`) before it is written. */
  readonly target: string;
  readonly country: string;
  readonly rule: string;
  readonly statusCode: string;
  /** The create's metadata as JSON, or null. */
  readonly metadata: string | null;
}

/**
 * The verification lifecycle's statements (docs/lifecycle.md): the state of an OTP as its events
 * show it, the cancel, and the events written apart from a create or a check (`otp.expired`,
 * `otp.blocked`). The functions are migration 0008's; the check and the create, with their events,
 * are in `otp.ts`.
 */
export function otpLifecycleSql(tables: Tables) {
  const fn = (name: string) => qualifiedFunction(tables.otp, name);
  const otp = qualifiedName(tables.otp);
  const expirySweep = qualifiedName(tables.expirySweep);
  return {
    /** `GET /otp/{id}`'s verification, metadata and test: `otp_event_data`. Row: `data` (null: no OTP). */
    eventData: statement<{ id: string; now: Date; maxFailures: number }>(
      ["id", "now", "maxFailures"],
      (p) => `SELECT ${fn("otp_event_data")}(${p.id}::uuid, ${p.now}::timestamptz, ${p.maxFailures}::int) AS data`,
    ),

    /** The channel and target of an OTP, for the check by id. Row: `channel`, `target`. */
    targetOf: statement<{ id: string }>(["id"], (p) => `SELECT channel, target FROM ${otp} WHERE id = ${p.id}`),

    /** `DELETE /otp/{id}`. Row: {@link CancelRow}; none for an unknown id. */
    cancel: statement<{ id: string; now: Date; maxFailures: number }>(
      ["id", "now", "maxFailures"],
      (p) =>
        `SELECT result, status FROM ${fn("otp_cancel")}(${p.id}::uuid, ${p.now}::timestamptz, ${p.maxFailures}::int)`,
    ),

    /**
     * One batch of `otp.expired`: the codes that ran out in (`from`, `now`], oldest first. Row:
     * `n`, the codes marked (-1 when another replica is sweeping), `last_at`, the expiry of the
     * last one (null when none), and `wanted`: whether any subscription wants `otp.expired`.
     */
    emitExpired: statement<{ from: Date; now: Date; maxFailures: number; limit: number }>(
      ["from", "now", "maxFailures", "limit"],
      (p) => `SELECT n, last_at, wanted FROM ${fn("otp_sweep_expired")}(${p.from}::timestamptz, ${p.now}::timestamptz,
  ${p.maxFailures}::int, ${p.limit}::int)`,
    ),

    /** How far the sweeps of `otp.expired` have gone, in any process. Row: `swept_to`; none before the first. */
    expirySweptTo: statement<Record<string, never>>([], () => `SELECT swept_to FROM ${expirySweep}`),

    /** Records a complete sweep up to `now` (never moving the mark back). */
    recordExpirySweep: statement<{ now: Date }>(
      ["now"],
      (p) => `INSERT INTO ${expirySweep} AS e (one, swept_to) VALUES (true, ${p.now}::timestamptz)
ON CONFLICT (one) DO UPDATE SET swept_to = greatest(e.swept_to, excluded.swept_to)`,
    ),

    /** `otp.blocked` for a refused create. Row: `n`, the outbox rows written. */
    emitBlocked: statement<BlockedParams>(
      ["at", "channel", "target", "country", "rule", "statusCode", "metadata"],
      (p) => `SELECT ${fn("otp_emit_blocked")}(${p.at}::timestamptz, ${p.channel}::text, ${p.target}::text,
  ${p.country}::text, ${p.rule}::text, ${p.statusCode}::text, ${p.metadata}::jsonb) AS n`,
    ),
  };
}

export type OtpLifecycleSql = ReturnType<typeof otpLifecycleSql>;
