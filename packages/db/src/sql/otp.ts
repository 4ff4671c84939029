import { CHECK_THROTTLE, type Channel, type DeliveryStatus, REUSE_MIN_LEFT_SECONDS } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { type Placeholders, prepared, qualifiedFunction, qualifiedName, statement } from "./statement.js";

export interface InsertOtpParams {
  readonly id: string;
  readonly channel: Channel;
  readonly target: string;
  readonly ip: string | null;
  readonly passwordDigest: Buffer;
  readonly passwordCipher: Buffer;
  readonly generated: boolean;
  readonly createdAt: Date;
  readonly expireAt: Date;
  /** The delivery event's id and its JSON, written to the outbox by the same statement. */
  readonly eventId: string;
  readonly event: string;
}

/** How a create treats the channel's rules and the target's other codes. */
export interface IssueParams extends InsertOtpParams {
  /** Insert only if the channel has no limit rules (else answer `has_rules`). */
  readonly guarded: boolean;
  /** Answer `duplicate` if a live code of the channel has the same digest (generated codes). */
  readonly unique: boolean;
  /** Close the target's older live codes of the channel (OTP_RESEND=supersede, reuse). */
  readonly supersede: boolean;
  /** `OTP_MAX_CHECK_ATTEMPTS`, for what "live" means; 0 = no limit. */
  readonly maxFailures: number;
}

/** What `issue` did: inserted, or why not. Row: `result`. */
export type IssueResult = "inserted" | "has_rules" | "duplicate";

export interface CheckParams {
  readonly channel: Channel;
  readonly target: string;
  /** The requester's address, when the caller gave it: counted apart (docs/security.md). */
  readonly ip: string | null;
  readonly now: Date;
  /** A fresh random nonce, and sha256(digest of the guess ‖ nonce). */
  readonly nonce: Buffer;
  readonly blinded: Buffer;
  /** `OTP_MAX_CHECK_ATTEMPTS`; 0 = no limit. */
  readonly maxFailures: number;
  /** `OTP_SINGLE_USE`: a match consumes the target's live codes. */
  readonly singleUse: boolean;
  /** `OTP_CHECK_THROTTLE_AFTER`; 0 = count, but never refuse. */
  readonly throttleAfter: number;
}

export type CheckOutcomeRow = "match" | "mismatch" | "attempts_exceeded" | "check_throttled";

export interface CheckRow {
  readonly outcome: CheckOutcomeRow;
  /** For `check_throttled`: how long until the running delay ends. */
  readonly retry_after_ms: string | null;
}

/** OTP_RESEND=reuse: the live code to send again, if any. */
export interface ReusableRow {
  readonly reused_id: string;
  readonly reused_cipher: Buffer;
  readonly reused_generated: boolean;
  readonly reused_expire_at: Date;
}

/** "Live" means unexpired, not closed and not killed by failed checks, as for a check. */
export interface LiveParams {
  readonly now: Date;
  readonly maxFailures: number;
}

export interface OtpStatusRow {
  readonly id: string;
  readonly channel: Channel;
  readonly created_at: Date;
  readonly expire_at: Date;
  readonly delivery_status: DeliveryStatus;
  readonly delivery_attempts: number;
  readonly delivery_last_error: string | null;
  readonly delivered_at: Date | null;
}

/** A duration of the fixed constants, as an SQL literal (the functions take them as parameters). */
const seconds = (n: number) => `interval '${Number(n)} seconds'`;

/**
 * The statements of the `otp` table: creating an OTP (with its outbox row), checking it, the
 * lookups, and the delivery columns the dispatcher writes. The limiter's window counts are in
 * `otp-windows.ts`. The create and the check are SQL functions (migration 0002), each one round
 * trip that takes its advisory lock before it reads.
 */
export function otpSql(tables: Tables) {
  const otp = qualifiedName(tables.otp);
  const fn = (name: string) => qualifiedFunction(tables.otp, name);

  return {
    /**
     * Creates an OTP and its outbox event: `otp_issue`, which also, as asked, refuses when the
     * channel has limit rules (`guarded`: the common case is then a single round trip without a
     * transaction, which still sees a rule added a moment ago by any replica), refuses a digest a
     * live code of the channel already has (`unique`, under a lock per digest) and closes the
     * target's older live codes (`supersede`). Row: `result` ({@link IssueResult}).
     */
    issue: prepared<IssueParams>(
      "issue",
      [
        "id",
        "channel",
        "target",
        "ip",
        "passwordDigest",
        "passwordCipher",
        "generated",
        "createdAt",
        "expireAt",
        "eventId",
        "event",
        "guarded",
        "unique",
        "supersede",
        "maxFailures",
      ],
      (p) => `SELECT ${fn("otp_issue")}(${p.id}::uuid, ${p.channel}::text, ${p.target}::text, ${p.ip}::text,
  ${p.passwordDigest}::bytea, ${p.passwordCipher}::bytea, ${p.generated}::boolean, ${p.createdAt}::timestamptz,
  ${p.expireAt}::timestamptz, ${p.eventId}::uuid, ${p.event}::jsonb, ${p.guarded}::boolean, ${p.unique}::boolean,
  ${p.supersede}::boolean, ${p.maxFailures}::int, ${seconds(CHECK_THROTTLE.memorySeconds)}) AS result`,
    ),

    /**
     * OTP_RESEND=reuse: locks the target (until the transaction ends) and reads its newest live
     * code if that has more than a minute to live. Row: {@link ReusableRow}.
     */
    reusable: statement<LiveParams & { channel: Channel; target: string }>(
      ["channel", "target", "now", "maxFailures"],
      (p) => `SELECT reused_id, reused_cipher, reused_generated, reused_expire_at
FROM ${fn("otp_reusable")}(${p.channel}::text, ${p.target}::text, ${p.now}::timestamptz,
  ${seconds(REUSE_MIN_LEFT_SECONDS)}, ${p.maxFailures}::int)`,
    ),

    /**
     * The whole check, one round trip: `otp_check` locks the channel and target (an advisory lock:
     * concurrent checks of a target run one after the other, across replicas), reads its
     * counters, refuses while a delay runs, else compares the guess with every live code and
     * counts the failure or consumes the match. Row: {@link CheckRow}.
     *
     * Constant time: the stored HMAC digest is never compared with the guess's digest itself, but
     * sha256(stored ‖ nonce) with sha256(guess ‖ nonce) for a nonce drawn per check (the "double
     * HMAC" blinding): where PostgreSQL's byte comparison stops tells nothing about the password,
     * since the compared values are unpredictable to the caller. Every candidate is hashed and
     * compared. A wrong check writes the target's counter whether or not the target has a code, so
     * that its time does not tell either.
     */
    check: prepared<CheckParams>(
      "check",
      ["channel", "target", "ip", "now", "nonce", "blinded", "maxFailures", "singleUse", "throttleAfter"],
      (p) => `SELECT outcome, retry_after_ms FROM ${fn("otp_check")}(${p.channel}::text, ${p.target}::text,
  ${p.ip}::text, ${p.now}::timestamptz, ${p.nonce}::bytea, ${p.blinded}::bytea, ${p.maxFailures}::int,
  ${p.singleUse}::boolean, ${p.throttleAfter}::int, ${CHECK_THROTTLE.ipShare}, ${seconds(CHECK_THROTTLE.firstDelaySeconds)},
  ${seconds(CHECK_THROTTLE.maxDelaySeconds)}, ${seconds(CHECK_THROTTLE.memorySeconds)})`,
    ),

    ...lookupSql(otp),
    ...deliverySql(otp),
  };
}

export type OtpSql = ReturnType<typeof otpSql>;

/** The lookups of `GET /target`, `GET /password` and `GET /otp/{id}`. */
function lookupSql(otp: string) {
  const alive = (p: Placeholders<LiveParams>) =>
    `expire_at > ${p.now} AND closed_at IS NULL AND (${p.maxFailures}::int = 0 OR failed_checks < ${p.maxFailures}::int)`;
  return {
    /**
     * `GET /target`: the targets of the live OTPs of a channel with this code, the newest first, at
     * most two (generated codes are unique, so two mean a client chose a code another target has).
     * Rows: `target`.
     */
    targetsByDigest: statement<LiveParams & { channel: Channel; passwordDigest: Buffer }>(
      ["channel", "now", "maxFailures", "passwordDigest"],
      (p) => `SELECT target FROM ${otp}
WHERE channel = ${p.channel} AND password_digest = ${p.passwordDigest} AND ${alive(p)}
GROUP BY target ORDER BY max(created_at) DESC LIMIT 2`,
    ),

    /** `GET /password`: the newest live OTP of a target (any of its spellings), any channel. Row: `id`, `password_cipher`. */
    newestOfTarget: statement<LiveParams & { targets: readonly string[] }>(
      ["targets", "now", "maxFailures"],
      (p) => `SELECT id, password_cipher FROM ${otp}
WHERE target = ANY(${p.targets}::text[]) AND ${alive(p)} ORDER BY created_at DESC LIMIT 1`,
    ),

    /** `GET /otp/{id}`. Row: {@link OtpStatusRow}. */
    statusById: statement<{ id: string }>(
      ["id"],
      (p) => `SELECT id, channel, created_at, expire_at, delivery_status, delivery_attempts, delivery_last_error,
  delivered_at FROM ${otp} WHERE id = ${p.id}`,
    ),
  };
}

/** One delivery attempt or decision, for {@link deliverySql}'s `recordDeliveries`, as parallel arrays. */
export interface RecordDeliveriesParams {
  readonly ids: readonly string[];
  /** 1 when an attempt was made, else 0. */
  readonly increments: readonly number[];
  readonly statuses: readonly DeliveryStatus[];
  /** Null leaves the previous error. */
  readonly errors: readonly (string | null)[];
}

/**
 * The delivery columns, written by the dispatcher in batches (prepared: they run per message).
 * Every write is idempotent and monotonic: `delivered` is never overwritten; `failed` and
 * `expired` are only reached from `pending`; a successful attempt wins over `failed`/`expired`
 * written by a concurrent duplicate (it did reach the user). Rows: `id`, `delivery_status`.
 */
function deliverySql(otp: string) {
  return {
    deliveryOf: prepared<{ ids: readonly string[] }>(
      "status_lookup",
      ["ids"],
      (p) => `SELECT id, delivery_status FROM ${otp} WHERE id = ANY(${p.ids}::uuid[])`,
    ),
    recordDeliveries: prepared<RecordDeliveriesParams>(
      "status_record",
      ["ids", "increments", "statuses", "errors"],
      (p) => `UPDATE ${otp} AS o SET
         delivery_attempts = o.delivery_attempts + v.inc,
         delivery_status = CASE
           WHEN o.delivery_status = 'delivered' THEN 'delivered'
           WHEN v.status = 'delivered' OR o.delivery_status = 'pending' THEN v.status
           ELSE o.delivery_status END,
         delivered_at = CASE
           WHEN v.status = 'delivered' AND o.delivery_status <> 'delivered' THEN now()
           ELSE o.delivered_at END,
         delivery_last_error = CASE
           WHEN o.delivery_status = 'delivered' OR v.err IS NULL THEN o.delivery_last_error
           ELSE v.err END
       FROM unnest(${p.ids}::uuid[], ${p.increments}::int[], ${p.statuses}::text[], ${p.errors}::text[]) AS v(id, inc, status, err)
       WHERE o.id = v.id
       RETURNING o.id, o.delivery_status`,
    ),
    /** A replay from the dead-letter queue: `failed` goes back to `pending` unless the code has expired. */
    reopenDelivery: prepared<{ id: string }>(
      "status_reopen",
      ["id"],
      (p) => `UPDATE ${otp} SET delivery_status = 'pending'
       WHERE id = ${p.id} AND delivery_status = 'failed' AND expire_at > now()`,
    ),
    /** The replay's copy was not confirmed: back to `failed`, which its dead letter still says. */
    unreopenDelivery: prepared<{ id: string }>(
      "status_unreopen",
      ["id"],
      (p) => `UPDATE ${otp} SET delivery_status = 'failed' WHERE id = ${p.id} AND delivery_status = 'pending'`,
    ),
  };
}
