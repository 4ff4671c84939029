import { CHECK_THROTTLE, type Channel } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { qualifiedFunction, qualifiedName, secondsInterval, statement } from "./statement.js";

/** A test target as listed. */
export interface TestTargetRow {
  readonly channel: Channel;
  readonly target: string;
  readonly expires_at: Date;
  readonly created_at: Date;
}

/** A live test target as each API process caches it: its fixed code sealed. */
export interface LiveTestTargetRow {
  readonly channel: Channel;
  readonly target: string;
  readonly password_cipher: Buffer;
  readonly expires_at: Date;
}

export interface TestOtpParams {
  readonly id: string;
  readonly channel: Channel;
  readonly target: string;
  readonly passwordDigest: Buffer;
  readonly passwordCipher: Buffer;
  readonly createdAt: Date;
  readonly expireAt: Date;
  readonly country: string | null;
  /** The create's metadata as JSON (docs/lifecycle.md, "Metadata"), or null. */
  readonly metadata: string | null;
  /** Close the target's older live codes (OTP_RESEND=supersede, reuse), as a create does. */
  readonly supersede: boolean;
  readonly maxFailures: number;
}

/**
 * The statements of test targets (docs/test-targets.md): the `test_target` table, and the OTP row
 * of a create to one, which has no outbox delivery row (nothing is ever sent), its delivery
 * recorded `delivered` at once and `test` true, and its `otp.created` event.
 */
export function testTargetSql(tables: Tables) {
  return { ...tableSql(qualifiedName(tables.testTarget)), ...testOtpSql(tables) };
}

export type TestTargetSql = ReturnType<typeof testTargetSql>;

/** The `test_target` table's statements. */
function tableSql(table: string) {
  return {
    /**
     * Taken before `upsert` in one transaction, so that parallel adds cannot each see room for one
     * more and pass the cap together. SHARE ROW EXCLUSIVE conflicts with itself and with writes,
     * not with reads: creates keep reading the test targets meanwhile.
     */
    lockForInsert: statement<Record<never, never>>([], () => `LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`),

    /**
     * Adds one while fewer than `max` are unexpired, or replaces the unexpired one already there
     * (an expired one counts as an addition). Row: {@link TestTargetRow}; none when the cap refused it.
     */
    upsert: statement<{
      channel: Channel;
      target: string;
      passwordDigest: Buffer;
      passwordCipher: Buffer;
      expiresAt: Date;
      now: Date;
      max: number;
    }>(
      ["channel", "target", "passwordDigest", "passwordCipher", "expiresAt", "now", "max"],
      (p) => `INSERT INTO ${table} AS t (channel, target, password_digest, password_cipher, expires_at, created_at)
SELECT ${p.channel}::text, ${p.target}::text, ${p.passwordDigest}::bytea, ${p.passwordCipher}::bytea,
  ${p.expiresAt}::timestamptz, ${p.now}::timestamptz
WHERE EXISTS (SELECT 1 FROM ${table} x WHERE x.channel = ${p.channel}::text AND x.target = ${p.target}::text
    AND x.expires_at > ${p.now}::timestamptz)
  OR (SELECT count(*) FROM ${table} x WHERE x.expires_at > ${p.now}::timestamptz) < ${p.max}::int
ON CONFLICT (channel, target) DO UPDATE SET password_digest = excluded.password_digest,
  password_cipher = excluded.password_cipher, expires_at = excluded.expires_at, created_at = excluded.created_at
RETURNING t.channel, t.target, t.expires_at, t.created_at`,
    ),

    /**
     * The unexpired ones, by channel and target, with their sealed codes (to tell whether they still
     * open; never shown). Rows: {@link TestTargetRow} and `password_cipher`.
     */
    list: statement<{ now: Date }>(
      ["now"],
      (p) => `SELECT channel, target, password_cipher, expires_at, created_at FROM ${table}
WHERE expires_at > ${p.now} ORDER BY channel, target`,
    ),

    /** Removes one (expired or not); rowCount says whether there was one. */
    delete: statement<{ channel: Channel; target: string }>(
      ["channel", "target"],
      (p) => `DELETE FROM ${table} WHERE channel = ${p.channel} AND target = ${p.target}`,
    ),

    /** Every unexpired one, for the per-process cache. Rows: {@link LiveTestTargetRow}. */
    live: statement<{ now: Date }>(
      ["now"],
      (p) => `SELECT channel, target, password_cipher, expires_at FROM ${table} WHERE expires_at > ${p.now}`,
    ),
  };
}

/** A test target's code: its row, its lock and its event. */
function testOtpSql(tables: Tables) {
  const otp = qualifiedName(tables.otp);
  const fn = (name: string) => qualifiedFunction(tables.otp, name);
  return {
    ...testOtpInsertSql(otp, qualifiedName(tables.checkBudget)),
    /** The target's lock, as an ordinary create takes it (`otp_lock_target`, migration 0002). */
    lockTarget: statement<{ channel: Channel; target: string }>(
      ["channel", "target"],
      (p) => `SELECT ${fn("otp_lock_target")}(${p.channel}::text, ${p.target}::text)`,
    ),

    /**
     * `otp.canceled` (reason `superseded`) for each unverified code `insertOtp` closed, in the same
     * transaction, as `otp_issue` emits it for an ordinary create: under the target's lock, the codes
     * closed at this create's instant are the ones it closed.
     */
    emitSuperseded: statement<{ channel: Channel; target: string; at: Date; maxFailures: number }>(
      ["channel", "target", "at", "maxFailures"],
      (p) => `SELECT ${fn("otp_emit_for")}('otp.canceled', o.id, ${p.at}::timestamptz, ${p.maxFailures}::int)
FROM ${otp} o WHERE o.channel = ${p.channel}::text AND o.target = ${p.target}::text
  AND o.closed_at = ${p.at}::timestamptz AND o.closed_reason = 'superseded' AND o.verified_at IS NULL`,
    ),

    /** `otp.created` for the OTP just inserted, in the same transaction (`otp_emit`, migration 0007). */
    emitCreated: statement<{ id: string; at: Date; maxFailures: number }>(
      ["id", "at", "maxFailures"],
      (p) => `SELECT ${fn("otp_emit")}('otp.created', ${p.id}::uuid, ${p.at}::timestamptz,
  ${fn("otp_event_data")}(${p.id}::uuid, ${p.at}::timestamptz, ${p.maxFailures}::int))`,
    ),
  };
}

/** `otp` and `budget` are the qualified names of the OTP and `check_budget` tables. */
function testOtpInsertSql(otp: string, budget: string) {
  const memory = secondsInterval(CHECK_THROTTLE.memorySeconds);
  return {
    /**
     * A test target's OTP row, closing the target's older live codes when asked, under the
     * target's lock (`lockTarget`). Its code is the fixed code every create of the target gets, so
     * the row keeps the wrong checks of the live, unverified codes with that digest before it: a
     * new create must not buy five more guesses at the same code. As `otp_issue` does, it keeps
     * the target's failure counter (`check_budget`) alive until the new code's expiry plus the
     * counters' memory (docs/test-targets.md).
     */
    insertOtp: statement<TestOtpParams>(
      [
        "id",
        "channel",
        "target",
        "passwordDigest",
        "passwordCipher",
        "createdAt",
        "expireAt",
        "country",
        "metadata",
        "supersede",
        "maxFailures",
      ],
      (p) => `WITH superseded AS (
  UPDATE ${otp} o SET closed_at = ${p.createdAt}::timestamptz, closed_reason = 'superseded'
  WHERE ${p.supersede}::boolean AND o.channel = ${p.channel}::text AND o.target = ${p.target}::text
    AND o.expire_at > ${p.createdAt}::timestamptz AND o.closed_at IS NULL
    AND (${p.maxFailures}::int = 0 OR o.failed_checks < ${p.maxFailures}::int)
  RETURNING 1
), kept AS (
  UPDATE ${budget} b SET expire_at = ${p.expireAt}::timestamptz + ${memory}
  WHERE b.channel = ${p.channel}::text AND b.target = ${p.target}::text AND b.expire_at > ${p.createdAt}::timestamptz
    AND b.expire_at < ${p.expireAt}::timestamptz + ${memory}
  RETURNING 1
)
INSERT INTO ${otp} (id, channel, target, ip, password_digest, password_cipher, generated, created_at, expire_at,
  delivery_status, delivered_at, test, country, metadata, failed_checks)
VALUES (${p.id}, ${p.channel}, ${p.target}, NULL, ${p.passwordDigest}, ${p.passwordCipher}, false, ${p.createdAt},
  ${p.expireAt}, 'delivered', ${p.createdAt}, true, ${p.country}, ${p.metadata}::jsonb,
  (SELECT coalesce(max(o.failed_checks), 0) FROM ${otp} o
   WHERE o.channel = ${p.channel}::text AND o.target = ${p.target}::text AND o.password_digest = ${p.passwordDigest}
     AND o.expire_at > ${p.createdAt}::timestamptz AND o.closed_at IS NULL AND o.verified_at IS NULL))`,
    ),
  };
}
