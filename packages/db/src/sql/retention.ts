import type { Tables } from "../schema.js";
import { qualifiedName, schemaOf, statement } from "./statement.js";

/** What one retention batch removed (`deleteBatch`'s row). */
export interface RetentionBatchRow {
  /** False when another replica held the retention lock: nothing was deleted. */
  readonly locked: boolean;
  readonly otp: number;
  readonly otp_policy: number;
}

/** What the windows that must keep their rows are configured to, and the database's time (`windows`' row). */
export interface RetentionWindowsRow {
  /** The database's `now()`, which the process clock is compared with before each batch. */
  readonly db_now: Date;
  /** The longest limit rule of any channel, null without rules. */
  readonly limit_minutes: number | null;
  /** Every stored destination policy body, as `policy.body` holds it. */
  readonly policies: unknown[];
  /**
   * When the earliest still-lasting streak of the conversion guard's suspensions began: a
   * `policy_block` row with strikes whose suspension ended at most the largest `max_block_minutes`
   * of any stored guard before `now` (the earlier of the given time and the database's). Null when
   * none lasts or no policy has a guard.
   */
  readonly streak_since: Date | null;
}

/**
 * The statements of built-in retention (docs/operations.md, "Retention"): the OTP rows whose code
 * expired before a cutoff, with their rows in other tables, deleted in small batches.
 */
export function retentionSql({ otp: otpTable, otpPolicy, limitRule, policy, policyBlock }: Tables) {
  const otp = qualifiedName(otpTable);
  const record = qualifiedName(otpPolicy);
  const lockKey = `otp:${schemaOf(otpTable)}:retention`;
  return {
    /**
     * The configuration every pass reads before each batch (the rows those windows count must
     * stay), and the database's clock. Of the guard's streaks only the earliest start of those
     * still lasting comes back: one value, however many prefixes were ever suspended (the rows are
     * read here, not sent). A streak lasts while its suspension ended at most `max_block_minutes`
     * ago, the largest of any stored guard, as `streakReachMinutes` takes it. Retention deletes no
     * `policy_block` row: a policy changed later (a longer `max_block_minutes` or window) makes an
     * old row's `strikes` and `forgiven_at` count again.
     */
    windows: statement<{ now: Date }>(
      ["now"],
      (p) => `WITH g AS (SELECT max((body->'conversion_guard'->>'max_block_minutes')::float8) AS memory_minutes
  FROM ${qualifiedName(policy)} WHERE jsonb_typeof(body->'conversion_guard') = 'object')
SELECT now() AS db_now, (SELECT max(minutes) FROM ${qualifiedName(limitRule)})::int AS limit_minutes,
  coalesce((SELECT json_agg(body) FROM ${qualifiedName(policy)}), '[]'::json) AS policies,
  (SELECT min(b.since) FROM ${qualifiedName(policyBlock)} b, g WHERE b.strikes > 0
    AND b.until >= least(now(), ${p.now}::timestamptz) - g.memory_minutes * interval '1 minute') AS streak_since`,
    ),

    /**
     * Deletes up to `limit` OTPs whose code expired before `cutoff`, the earliest first (served by
     * `otp_expire_idx`), and their `otp_policy` rows, in one statement, if no other replica is
     * deleting right now: the lock is tried, not awaited, and held until the statement's
     * transaction ends, so passes of two replicas never delete at the same moment; the lock is a
     * one-time filter, so a replica without it reads no row. An OTP expires
     * after it was created, so no row younger than the cutoff goes, and no live code. The batch's
     * rows are locked `SKIP LOCKED`: a row another transaction holds (the dispatcher's status
     * write locks rows in id order, this would lock them in expiry order) is left for a later
     * pass, so a batch never waits on a row lock, nor deadlocks, while it holds the retention lock.
     */
    deleteBatch: statement<{ cutoff: Date; limit: number }>(
      ["cutoff", "limit"],
      (p) => `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended('${lockKey}', 0)) AS got),
v AS (SELECT o.id FROM ${otp} o WHERE (SELECT got FROM l) AND o.expire_at < ${p.cutoff}::timestamptz
  ORDER BY o.expire_at LIMIT ${p.limit}::int FOR UPDATE SKIP LOCKED),
r AS (DELETE FROM ${record} r USING v WHERE r.otp_id = v.id RETURNING 1),
d AS (DELETE FROM ${otp} o USING v WHERE o.id = v.id RETURNING 1)
SELECT (SELECT got FROM l) AS locked, (SELECT count(*) FROM d)::int AS otp, (SELECT count(*) FROM r)::int AS otp_policy`,
    ),

    /**
     * The row retention deletes next (the earliest to expire), no row on an empty table: one step
     * of `otp_expire_idx`. `expired_age`: seconds since its code expired — while passes keep up, at
     * most the cutoff's distance from now plus a pass interval. `created_age`: seconds since it was
     * created — not the oldest row's age, which `otp_created_brin` cannot find without reading
     * the whole index (a row with a longer lifetime may be older).
     */
    oldestAge: statement<{ now: Date }>(
      ["now"],
      (p) => `SELECT extract(epoch FROM ${p.now}::timestamptz - expire_at)::float8 AS expired_age,
  extract(epoch FROM ${p.now}::timestamptz - created_at)::float8 AS created_age
FROM ${otp} ORDER BY expire_at LIMIT 1`,
    ),
  };
}

export type RetentionSql = ReturnType<typeof retentionSql>;
