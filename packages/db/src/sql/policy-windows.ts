import type { Channel } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { prepared, qualifiedFunction, qualifiedName, statement } from "./statement.js";

/**
 * The destination policy's reads over the accepted codes: its windows and the conversion guard's
 * figures, in one call of `otp_policy_counts` (migration 0006), and, for a refusal's
 * `Retry-After`, the code whose leaving makes room in a full window.
 */

export interface PolicyCountsParams {
  readonly channel: Channel;
  readonly now: Date;
  /** One cutoff (where the window starts) and one cap (the rule's rate) per window. */
  readonly budgetCutoffs: readonly Date[];
  readonly budgetCaps: readonly number[];
  readonly country: string;
  readonly countryCutoffs: readonly Date[];
  readonly countryCaps: readonly number[];
  /** One prefix of the target per prefix window. */
  readonly prefixes: readonly string[];
  readonly prefixCutoffs: readonly Date[];
  readonly prefixCaps: readonly number[];
  /**
   * The conversion guard's prefix, window start and "old enough to count unverified"; null without
   * a guard.
   */
  readonly guardPrefix: string | null;
  readonly guardCutoff: Date | null;
  readonly guardRipe: Date | null;
  /** A streak of suspensions that ended before this is over: `max_block_minutes` ago. */
  readonly guardMemory: Date | null;
  /** Every prefix of the target, for the suspensions. */
  readonly targetPrefixes: readonly string[];
}

export interface PolicyCountsRow {
  /** Each window's count, at most its cap, in the order given. */
  readonly budget_counts: number[];
  readonly country_counts: number[];
  readonly prefix_counts: number[];
  readonly guard_sent: number | null;
  readonly guard_verified: number | null;
  /** The guard prefix's earlier suspensions in a row, and when the last one ended (or ends). */
  readonly guard_strikes: number | null;
  readonly guard_until: Date | null;
  /** The active suspension of a prefix of the target, if any. */
  readonly suspended_prefix: string | null;
  readonly suspended_until: Date | null;
}

/** Which window a `Retry-After` is wanted for. */
export type PolicyWindowKind = "budget" | "country" | "prefix";

export interface LeavingParams {
  readonly channel: Channel;
  /** The country or the prefix; unused for the budget. */
  readonly value: string;
  readonly cutoff: Date;
  /** The rule's rate: the rate-th newest code's leaving makes room. */
  readonly rate: number;
}

export function policyWindowsSql(tables: Tables) {
  const otp = qualifiedName(tables.otp);
  const record = qualifiedName(tables.otpPolicy);
  const counts = qualifiedFunction(tables.otp, "otp_policy_counts");
  const phone = "channel IN ('sms', 'call')";
  const leavingOf = (from: string, where: (value: string) => string) =>
    statement<Omit<LeavingParams, "rate"> & { offset: number }>(
      ["channel", "value", "cutoff", "offset"],
      (p) => `SELECT created_at FROM ${from} WHERE channel = ${p.channel} AND ${where(p.value)}
  AND created_at > ${p.cutoff}::timestamptz ORDER BY created_at DESC OFFSET ${p.offset} LIMIT 1`,
    );
  const leaving = {
    budget: leavingOf(otp, (v) => `${phone} AND ${v}::text IS NOT NULL`),
    country: leavingOf(record, (v) => `country = ${v}::text`),
    prefix: leavingOf(otp, (v) => `${phone} AND target ~>=~ ${v}::text AND target ~<~ (${v}::text || ':')`),
  };
  return {
    /** See `otp_policy_counts`: the locks and every count of a policed create. Row: {@link PolicyCountsRow}. */
    counts: prepared<PolicyCountsParams>(
      "policy_counts",
      [
        "channel",
        "now",
        "budgetCutoffs",
        "budgetCaps",
        "country",
        "countryCutoffs",
        "countryCaps",
        "prefixes",
        "prefixCutoffs",
        "prefixCaps",
        "guardPrefix",
        "guardCutoff",
        "guardRipe",
        "guardMemory",
        "targetPrefixes",
      ],
      (p) => `SELECT * FROM ${counts}(${p.channel}::text, ${p.now}::timestamptz,
  ${p.budgetCutoffs}::timestamptz[], ${p.budgetCaps}::int[], ${p.country}::text, ${p.countryCutoffs}::timestamptz[],
  ${p.countryCaps}::int[], ${p.prefixes}::text[], ${p.prefixCutoffs}::timestamptz[], ${p.prefixCaps}::int[],
  ${p.guardPrefix}::text, ${p.guardCutoff}::timestamptz, ${p.guardRipe}::timestamptz,
  ${p.guardMemory}::timestamptz, ${p.targetPrefixes}::text[])`,
    ),

    /** When the code whose leaving makes room in a full window was accepted. Row: `created_at`. */
    leaving(kind: PolicyWindowKind, { rate, ...params }: LeavingParams) {
      return leaving[kind]({ ...params, offset: rate - 1 });
    },
  };
}

export type PolicyWindowsSql = ReturnType<typeof policyWindowsSql>;
