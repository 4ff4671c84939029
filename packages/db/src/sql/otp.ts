import type { Channel, DeliveryStatus } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { type Placeholders, prepared, qualifiedName, statement } from "./statement.js";

/** Resends make several live codes per target possible; more than this many is not a real client. */
const MAX_CANDIDATES = 100;

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

export interface CheckParams {
  readonly channel: Channel;
  readonly target: string;
  readonly now: Date;
  /** A fresh random nonce, and sha256(digest of the guess ‖ nonce). */
  readonly nonce: Buffer;
  readonly blinded: Buffer;
  /** `OTP_MAX_CHECK_ATTEMPTS`; 0 = no limit. */
  readonly maxFailures: number;
  /** `OTP_SINGLE_USE`: a match consumes the code. */
  readonly singleUse: boolean;
}

export interface CheckRow {
  readonly matched: boolean;
  readonly live: number;
  readonly candidates: number;
}

/** "Live" means unexpired, unused and not killed by failed checks, as for a check. */
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

/**
 * The statements of the `otp` table: creating an OTP (with its outbox row), checking it, the
 * lookups, and the delivery columns the dispatcher writes. The limiter's window counts are in
 * `otp-windows.ts`.
 */
export function otpSql(tables: Tables) {
  const otp = qualifiedName(tables.otp);

  return {
    insertGuarded: insertStatement(tables, true),
    insert: insertStatement(tables, false),

    /**
     * The whole check as one statement (one round trip, its own implicit transaction):
     *  - `c` locks the candidate rows (FOR UPDATE): a concurrent check of the same target waits
     *    for this statement to commit and then reads the rows as this one left them, failures
     *    counted;
     *  - `live` keeps those below the failure limit;
     *  - `m` is the newest live candidate whose blinded digest equals the blinded guess;
     *  - `fail` adds a failure to every live candidate when none matched; `used` consumes the
     *    match when single use.
     *
     * Constant time: the stored HMAC digest is never compared with the guess's digest itself, but
     * sha256(stored ‖ nonce) with sha256(guess ‖ nonce) for a nonce drawn per check (the "double
     * HMAC" blinding): where PostgreSQL's byte comparison stops tells nothing about the password,
     * since the compared values are unpredictable to the caller. Every candidate is hashed and
     * compared.
     */
    check: prepared<CheckParams>(
      "check",
      ["channel", "target", "now", "nonce", "blinded", "maxFailures", "singleUse"],
      (p) => `WITH c AS (
  SELECT id, created_at, failed_checks, sha256(password_digest || ${p.nonce}::bytea) = ${p.blinded}::bytea AS ok FROM ${otp}
  WHERE channel = ${p.channel}::text AND target = ${p.target}::text AND expire_at > ${p.now}::timestamptz AND used_at IS NULL
  ORDER BY created_at DESC LIMIT ${MAX_CANDIDATES} FOR UPDATE
), live AS (
  SELECT id, created_at, ok FROM c WHERE ${p.maxFailures}::int = 0 OR failed_checks < ${p.maxFailures}::int
), m AS (
  SELECT id FROM live WHERE ok ORDER BY created_at DESC LIMIT 1
), fail AS (
  UPDATE ${otp} SET failed_checks = failed_checks + 1
  WHERE id IN (SELECT id FROM live) AND NOT EXISTS (SELECT 1 FROM m) RETURNING id
), used AS (
  UPDATE ${otp} SET used_at = ${p.now}::timestamptz WHERE ${p.singleUse}::boolean AND id IN (SELECT id FROM m) RETURNING id
)
SELECT EXISTS (SELECT 1 FROM m) AS matched, (SELECT count(*) FROM live)::int AS live,
  (SELECT count(*) FROM c)::int AS candidates, (SELECT count(*) FROM fail)::int AS failed,
  (SELECT count(*) FROM used)::int AS used`,
    ),

    ...lookupSql(otp),
    ...deliverySql(otp),
  };
}

export type OtpSql = ReturnType<typeof otpSql>;

/**
 * One statement writes the OTP and its outbox event. The guarded form inserts only when the
 * channel has no limit rules at all, which makes the common case a single round trip without a
 * transaction and still sees a rule added a moment ago by any replica.
 */
function insertStatement(tables: Tables, guarded: boolean) {
  const otp = qualifiedName(tables.otp);
  const limitRule = qualifiedName(tables.limitRule);
  const outbox = qualifiedName(tables.outbox);
  return prepared<InsertOtpParams>(
    guarded ? "insert_guarded" : "insert",
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
    ],
    (p) => `WITH o AS (
  INSERT INTO ${otp} (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at)
  SELECT ${p.id}::uuid, ${p.channel}::text, ${p.target}::text, ${p.ip}::text, ${p.passwordDigest}::bytea, ${p.passwordCipher}::bytea, ${p.generated}::boolean, ${p.createdAt}::timestamptz, ${p.expireAt}::timestamptz
  ${guarded ? `WHERE NOT EXISTS (SELECT 1 FROM ${limitRule} WHERE channel = ${p.channel}::text)` : ""}
  RETURNING id
)
INSERT INTO ${outbox} (id, otp_id, channel, event, created_at)
SELECT ${p.eventId}::uuid, o.id, ${p.channel}::text, ${p.event}::jsonb, ${p.createdAt}::timestamptz FROM o
RETURNING id`,
  );
}

/** The lookups of `GET /target`, `GET /password` and `GET /otp/{id}`. */
function lookupSql(otp: string) {
  const alive = (p: Placeholders<LiveParams>) =>
    `expire_at > ${p.now} AND used_at IS NULL AND (${p.maxFailures}::int = 0 OR failed_checks < ${p.maxFailures}::int)`;
  return {
    /** `GET /target`: the target of the newest live OTP of a channel with this code. Row: `target`. */
    targetByDigest: statement<LiveParams & { channel: Channel; passwordDigest: Buffer }>(
      ["channel", "now", "maxFailures", "passwordDigest"],
      (p) => `SELECT target FROM ${otp}
WHERE channel = ${p.channel} AND password_digest = ${p.passwordDigest} AND ${alive(p)} ORDER BY created_at DESC LIMIT 1`,
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
