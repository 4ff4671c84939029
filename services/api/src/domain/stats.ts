import {
  STATS_DEFAULT_PREFIX_LENGTH,
  STATS_DEFAULT_SPAN_MS,
  STATS_MAX_SPAN_DAYS,
  type StatsContent,
  type StatsGroup,
  type StatsGrouping,
  type StatsRequest,
} from "@otp/contracts";
import type { StatsRow } from "@otp/db";
import type { DomainDeps } from "./deps.js";

const DAY_MS = 86_400_000;

/** The window asked for, with its defaults: `to` now, `from` 24 h before `to`. */
export interface StatsWindow {
  readonly from: Date;
  readonly to: Date;
}

/** The window, or why it cannot be read (docs/statistics.md, "Parameters"). */
export function statsWindow(input: Pick<StatsRequest, "from" | "to">, now: Date): StatsWindow | { error: string } {
  const to = input.to ?? (input.from ? new Date(input.from.getTime() + STATS_DEFAULT_SPAN_MS) : now);
  const from = input.from ?? new Date(to.getTime() - STATS_DEFAULT_SPAN_MS);
  if (from.getTime() >= to.getTime()) return { error: '"from" must be before "to"' };
  if (to.getTime() - from.getTime() > STATS_MAX_SPAN_DAYS * DAY_MS) {
    return { error: `the window from "from" to "to" must be at most ${STATS_MAX_SPAN_DAYS} days` };
  }
  return { from, to };
}

/**
 * `GET /stats`: one statement (`otpStats.stats`, packages/db/src/sql/otp-stats.ts) over the OTPs
 * created in the window, real traffic and test targets' codes apart. An error is a value: the
 * route answers it as a 400.
 */
export async function readStats(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock">,
  input: StatsRequest,
): Promise<StatsContent | { error: string }> {
  const window = statsWindow(input, deps.clock());
  if ("error" in window) return window;
  const groupBy = input.group_by ?? "channel";
  if (groupBy === "prefix" && (input.channel === "email" || input.channel === "telegram")) {
    return { error: '"group_by" prefix counts the phone channels only: "channel" must be sms or call' };
  }
  const prefixLength = groupBy === "prefix" ? (input.prefix_length ?? STATS_DEFAULT_PREFIX_LENGTH) : null;
  const { rows } = await deps.pool.query<StatsRow>(
    deps.sql.otpStats.stats({
      from: window.from,
      to: window.to,
      channel: input.channel ?? null,
      groupBy,
      prefixLength: prefixLength ?? STATS_DEFAULT_PREFIX_LENGTH,
    }),
  );
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    channel: input.channel ?? null,
    group_by: groupBy,
    prefix_length: prefixLength,
    groups: rows.filter((row) => !row.test).map((row) => groupOf(groupBy, row)),
    test: rows.filter((row) => row.test).map((row) => groupOf(groupBy, row)),
  };
}

function groupOf(groupBy: StatsGrouping, row: StatsRow): StatsGroup {
  return {
    [groupBy]: row.key,
    sent: row.sent,
    delivered: row.delivered,
    failed: row.failed,
    verified: row.verified,
    conversion_rate: row.sent === 0 ? null : row.verified / row.sent,
    p50_seconds_to_verify: row.p50,
    p95_seconds_to_verify: row.p95,
  } as StatsGroup;
}
