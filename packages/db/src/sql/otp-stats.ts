import { type Channel, HIDDEN_LAST_DIGITS, type StatsGrouping } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { qualifiedName, statement } from "./statement.js";

export interface StatsParams {
  /** The window: created_at in [from, to). */
  readonly from: Date;
  readonly to: Date;
  /** Only this channel; null for all. */
  readonly channel: Channel | null;
  readonly groupBy: StatsGrouping;
  /** Under `prefix`: the digits of the target that make its key. */
  readonly prefixLength: number;
  /** At most this many groups of each kind (real, test): those that sent the most. */
  readonly maxGroups: number;
}

/** One group of `GET /stats`. Counts are float8 so that node-postgres reads them as numbers. */
export interface StatsRow {
  /** Test targets' codes (docs/test-targets.md) are grouped apart. */
  readonly test: boolean;
  /** The channel, the country (null when unknown: email, telegram) or the prefix. */
  readonly key: string | null;
  readonly sent: number;
  readonly delivered: number;
  readonly failed: number;
  readonly verified: number;
  readonly p50: number | null;
  readonly p95: number | null;
  /** How many groups of its kind (real or test) the window has, before `maxGroups` kept the largest. */
  readonly group_count: number;
}

/**
 * No code lives longer than this (OTP_MAX_LIFETIME and OTP_TELEGRAM_LIFETIME are at most 31,536,000
 * seconds; a reused code keeps an earlier expiry), so a row created before `to` expires before
 * `to` + this: a bound that is exact, and lets the planner stop an `expire_at` range scan.
 */
const LONGEST_LIFE = "interval '31536000 seconds'";

/**
 * `GET /stats` (docs/statistics.md): one statement, grouped by test or not and by the key asked
 * for. The window is found by `created_at` through `otp_created_brin` (a BRIN index: rows are
 * written in time order; migration 0009), and, for recent windows, through `otp_expire_idx`, which
 * the bounds on `expire_at` make usable: a row created in [from, to) expires after `from` (every
 * lifetime is at least a second) and before `to` + LONGEST_LIFE. Times to verify are
 * verified_at − created_at of the verified codes (percentile_cont skips the nulls of the others).
 *
 * A prefix never holds a number's last four digits, whatever `prefix_length` asks: a group must
 * not be one person's number (docs/statistics.md, "Parameters"). Of each kind, only the `maxGroups`
 * groups that sent the most are returned, with the count of all, so that a long window of long
 * prefixes cannot make an answer of millions of rows.
 */
export function otpStatsSql(tables: Tables) {
  const otp = qualifiedName(tables.otp);
  return {
    /** Rows: {@link StatsRow}, real traffic first, then by key. */
    stats: statement<StatsParams>(
      ["from", "to", "channel", "groupBy", "prefixLength", "maxGroups"],
      (p) => `SELECT r.test, r.key, r.sent, r.delivered, r.failed, r.verified, r.p50, r.p95, r.group_count FROM (
SELECT g.*, row_number() OVER (PARTITION BY g.test ORDER BY g.sent DESC, g.key) AS rank,
  count(*) OVER (PARTITION BY g.test)::float8 AS group_count
FROM (
SELECT o.test,
  CASE ${p.groupBy}::text WHEN 'channel' THEN o.channel WHEN 'country' THEN o.country
    ELSE left(o.target, least(${p.prefixLength}::int, greatest(length(o.target) - ${HIDDEN_LAST_DIGITS}, 0))) END AS key,
  count(*)::float8 AS sent,
  count(*) FILTER (WHERE o.delivery_status = 'delivered')::float8 AS delivered,
  count(*) FILTER (WHERE o.delivery_status = 'failed')::float8 AS failed,
  count(o.verified_at)::float8 AS verified,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.verified_at - o.created_at)) AS p50,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM o.verified_at - o.created_at)) AS p95
FROM ${otp} o
WHERE o.created_at >= ${p.from}::timestamptz AND o.created_at < ${p.to}::timestamptz
  AND o.expire_at > ${p.from}::timestamptz AND o.expire_at < ${p.to}::timestamptz + ${LONGEST_LIFE}
  AND (${p.channel}::text IS NULL OR o.channel = ${p.channel}::text)
  AND (${p.groupBy}::text <> 'prefix' OR o.channel IN ('sms', 'call'))
GROUP BY 1, 2
) g
) r
WHERE r.rank <= ${p.maxGroups}::int
ORDER BY 1, 2 NULLS LAST`,
    ),
  };
}

export type OtpStatsSql = ReturnType<typeof otpStatsSql>;
