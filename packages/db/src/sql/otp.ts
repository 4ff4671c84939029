import { CHECK_THROTTLE, type Channel, type DeliveryStatus } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { deliverySql } from "./otp-delivery.js";
import { lookupSql } from "./otp-lookups.js";
import { reuseSql } from "./otp-reuse.js";
import {
  type Placeholders,
  prepared,
  qualifiedFunction,
  qualifiedName,
  secondsInterval as seconds,
} from "./statement.js";

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
  /** The client's `metadata` as JSON (docs/lifecycle.md, "Metadata"); null when none. */
  readonly metadata: string | null;
  /** The phone's country (sms, call; `countryOfPhone`); null for other channels. */
  readonly country: string | null;
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

/** The parameters of `otp_issue`, in its order: the plain create's and the policed create's. */
export const ISSUE_PARAMS = [
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
  "metadata",
  "country",
] as const satisfies readonly (keyof IssueParams)[];

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
  /** The check by id (`POST /otp/{id}/check`): only this OTP's code can match; null for a channel check. */
  readonly only: string | null;
}

export type CheckOutcomeRow = "match" | "mismatch" | "attempts_exceeded" | "check_throttled";

export interface CheckRow {
  readonly outcome: CheckOutcomeRow;
  /** For `check_throttled`: how long until the running delay ends. */
  readonly retry_after_ms: string | null;
  /** The checked OTP's wrong checks left (check by id, with OTP_MAX_CHECK_ATTEMPTS); else null. */
  readonly attempts_left: number | null;
  /** For a code's first right check: seconds from its creation (`otp_time_to_verify_seconds`). */
  readonly verified_seconds: number | null;
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
  /** A test target's code (docs/test-targets.md). */
  readonly test: boolean;
}

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
    ...issueSql(fn),
    ...reuseSql(fn, otp, qualifiedName(tables.outbox)),
    ...checkSql(fn, otp, qualifiedName(tables.checkBudget)),
    ...lookupSql(otp),
    ...deliverySql(otp, fn, qualifiedName(tables.webhook)),
  };
}

export type OtpSql = ReturnType<typeof otpSql>;

/** The create (`otp_issue`); OTP_RESEND=reuse's statements are in otp-reuse.ts. */
function issueSql(fn: (name: string) => string) {
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
      ISSUE_PARAMS,
      (p) => `SELECT ${fn("otp_issue")}(${p.id}::uuid, ${p.channel}::text, ${p.target}::text, ${p.ip}::text,
  ${p.passwordDigest}::bytea, ${p.passwordCipher}::bytea, ${p.generated}::boolean, ${p.createdAt}::timestamptz,
  ${p.expireAt}::timestamptz, ${p.eventId}::uuid, ${p.event}::jsonb, ${p.guarded}::boolean, ${p.unique}::boolean,
  ${p.supersede}::boolean, ${p.maxFailures}::int, ${seconds(CHECK_THROTTLE.memorySeconds)},
  ${p.metadata}::jsonb, ${p.country}::text) AS result`,
    ),
  };
}

/**
 * The check: a read that answers a right check with nothing to write, else `otp_check`.
 * `otp` and `budget` are the qualified table names.
 */
function checkSql(fn: (name: string) => string, otp: string, budget: string) {
  return {
    /**
     * The whole check, one round trip: `otp_check` locks the channel and target (an advisory lock:
     * concurrent checks of a target run one after the other, across replicas), reads its
     * counters, refuses while a delay runs, else compares the guess with every live code and
     * counts the failure or consumes the match. Row: {@link CheckRow}.
     *
     * Before it, in the same statement, a plain read answers the one check that has nothing to
     * write — the right code of a code already verified, its target with no failure counted
     * (no `check_budget` row, so no delay and nothing to reset), without `OTP_SINGLE_USE` — with
     * what `otp_check` would answer, without its lock: it counts nothing and changes nothing, and
     * it reads one snapshot, so its answer is the one the locked check would have given at that
     * instant (a wrong check of the same target that commits later is ordered after it). Any
     * other check — a wrong code, a first right check, a target with a failure counted — finds
     * no row there and runs `otp_check` (the Result node's one-time filter skips the function when
     * the read answered). Its measured price: docs/performance.md, "What a check writes, and what
     * that costs".
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
      ["channel", "target", "ip", "now", "nonce", "blinded", "maxFailures", "singleUse", "throttleAfter", "only"],
      (p) => `${alreadyVerifiedRead(p, otp, budget)}
SELECT 'match'::text AS outcome, NULL::bigint AS retry_after_ms,
  CASE WHEN ${p.only}::uuid IS NOT NULL AND ${p.maxFailures}::int > 0 THEN greatest(${p.maxFailures}::int - a.failed_checks, 0) END AS attempts_left,
  NULL::float8 AS verified_seconds
FROM answered a
UNION ALL
SELECT c.outcome, c.retry_after_ms, c.attempts_left, c.verified_seconds FROM ${fn("otp_check")}(${p.channel}::text, ${p.target}::text,
  ${p.ip}::text, ${p.now}::timestamptz, ${p.nonce}::bytea, ${p.blinded}::bytea, ${p.maxFailures}::int,
  ${p.singleUse}::boolean, ${p.throttleAfter}::int, ${CHECK_THROTTLE.ipShare}, ${seconds(CHECK_THROTTLE.firstDelaySeconds)},
  ${seconds(CHECK_THROTTLE.maxDelaySeconds)}, ${seconds(CHECK_THROTTLE.memorySeconds)}, ${p.only}::uuid) c
WHERE NOT EXISTS (SELECT 1 FROM answered)`,
    ),
  };
}

/**
 * The check's read path (see `check`): `answered` holds the matched code's failure count when a
 * right check of a code already verified has nothing to write, and no row otherwise.
 */
function alreadyVerifiedRead(p: Placeholders<CheckParams>, otp: string, budget: string): string {
  return `WITH matched AS MATERIALIZED (
  SELECT m.verified_at, m.failed_checks FROM (
    SELECT o.created_at, o.verified_at, o.failed_checks, o.password_digest, o.id
    FROM ${otp} o
    WHERE o.channel = ${p.channel}::text AND o.target = ${p.target}::text AND o.expire_at > ${p.now}::timestamptz
      AND o.closed_at IS NULL
    ORDER BY o.created_at DESC
    LIMIT 100
  ) m
  WHERE (${p.maxFailures}::int = 0 OR m.failed_checks < ${p.maxFailures}::int)
    AND sha256(m.password_digest || ${p.nonce}::bytea) = ${p.blinded}::bytea
    AND (${p.only}::uuid IS NULL OR m.id = ${p.only}::uuid)
  ORDER BY m.created_at DESC
  LIMIT 1
), answered AS MATERIALIZED (
  SELECT m.failed_checks FROM matched m
  WHERE m.verified_at IS NOT NULL AND NOT ${p.singleUse}::boolean
    AND NOT EXISTS (SELECT 1 FROM ${budget} b WHERE b.channel = ${p.channel}::text AND b.target = ${p.target}::text
      AND b.ip IN ('', coalesce(${p.ip}::text, '')) AND b.expire_at > ${p.now}::timestamptz)
)`;
}
