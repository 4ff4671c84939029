import type { Tables } from "../schema.js";
import { qualifiedName, schemaOf, statement } from "./statement.js";

/** What one retention batch removed (`deleteBatch`'s row). */
export interface RetentionBatchRow {
  /** False when another replica held the retention lock: nothing was deleted. */
  readonly locked: boolean;
  readonly otp: number;
  readonly otp_policy: number;
}

/** What the windows that must keep their rows are configured to (`windows`' row). */
export interface RetentionWindowsRow {
  /** The longest limit rule of any channel, null without rules. */
  readonly limit_minutes: number | null;
  /** Every stored destination policy body, as `policy.body` holds it. */
  readonly policies: unknown[];
  /** The conversion guard's streaks (`policy_block` rows with strikes): when each began and ends. */
  readonly streaks: { readonly since: string; readonly until: string }[];
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
    /** The configuration every pass reads before each batch: the rows those windows count must stay. */
    windows: statement<Record<string, never>>(
      [],
      () => `SELECT (SELECT max(minutes) FROM ${qualifiedName(limitRule)})::int AS limit_minutes,
  coalesce((SELECT json_agg(body) FROM ${qualifiedName(policy)}), '[]'::json) AS policies,
  coalesce((SELECT json_agg(json_build_object('since', since, 'until', until))
    FROM ${qualifiedName(policyBlock)} WHERE strikes > 0), '[]'::json) AS streaks`,
    ),

    /**
     * Deletes up to `limit` OTPs whose code expired before `cutoff`, the earliest first (served by
     * `otp_expire_idx`), and their `otp_policy` rows, in one statement, if no other replica is
     * deleting right now: the lock is tried, not awaited, and held until the statement's
     * transaction ends, so passes of two replicas never delete at the same moment; the lock is a
     * one-time filter, so a replica without it reads no row. An OTP expires
     * after it was created, so no row younger than the cutoff goes, and no live code.
     */
    deleteBatch: statement<{ cutoff: Date; limit: number }>(
      ["cutoff", "limit"],
      (p) => `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended('${lockKey}', 0)) AS got),
v AS (SELECT o.id FROM ${otp} o WHERE (SELECT got FROM l) AND o.expire_at < ${p.cutoff}::timestamptz
  ORDER BY o.expire_at LIMIT ${p.limit}::int),
r AS (DELETE FROM ${record} r USING v WHERE r.otp_id = v.id RETURNING 1),
d AS (DELETE FROM ${otp} o USING v WHERE o.id = v.id RETURNING 1)
SELECT (SELECT got FROM l) AS locked, (SELECT count(*) FROM d)::int AS otp, (SELECT count(*) FROM r)::int AS otp_policy`,
    ),

    /**
     * The age in seconds of the row retention deletes next (the earliest to expire; at most a
     * lifetime younger than the oldest row), null on an empty table: one step of `otp_expire_idx`.
     */
    oldestAge: statement<{ now: Date }>(
      ["now"],
      (p) => `SELECT extract(epoch FROM ${p.now}::timestamptz - created_at)::float8 AS age
FROM ${otp} ORDER BY expire_at LIMIT 1`,
    ),
  };
}

export type RetentionSql = ReturnType<typeof retentionSql>;
