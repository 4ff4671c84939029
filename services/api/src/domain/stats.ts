import {
  STATS_DEFAULT_PREFIX_LENGTH,
  STATS_DEFAULT_SPAN_MS,
  STATS_EARLIEST,
  STATS_LATEST,
  STATS_MAX_GROUPS,
  STATS_MAX_SPAN_DAYS,
  type StatsContent,
  type StatsGroup,
  type StatsGrouping,
  type StatsRequest,
} from "@otp/contracts";
import type { StatsRow } from "@otp/db";
import { someInErrorChain } from "../db/error-chain.js";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";

const DAY_MS = 86_400_000;

/**
 * PostgreSQL stops a statistics statement after this long (`statement_timeout`), rather than run
 * it on after the API gave up (docs/statistics.md, "Cost"); the answer is then a 503.
 */
export const STATS_STATEMENT_TIMEOUT_MS = 30_000;

/** Why `GET /stats` cannot answer: a parameter (400 `validation`), or a statement too slow (503 `unavailable`). */
export interface StatsRefusal {
  readonly error: string;
  readonly code: "validation" | "unavailable";
}

/** The window asked for, with its defaults: `to` now, `from` 24 h before `to`. */
export interface StatsWindow {
  readonly from: Date;
  readonly to: Date;
}

/** The window, or why it cannot be read (docs/statistics.md, "Parameters"). */
export function statsWindow(input: Pick<StatsRequest, "from" | "to">, now: Date): StatsWindow | { error: string } {
  const to = input.to ?? (input.from ? new Date(input.from.getTime() + STATS_DEFAULT_SPAN_MS) : now);
  const from = input.from ?? new Date(to.getTime() - STATS_DEFAULT_SPAN_MS);
  if (from.getTime() < STATS_EARLIEST || to.getTime() > STATS_LATEST) {
    return { error: 'the window from "from" to "to" must lie between 1970-01-01 and 9999-01-01' };
  }
  if (from.getTime() >= to.getTime()) return { error: '"from" must be before "to"' };
  if (to.getTime() - from.getTime() > STATS_MAX_SPAN_DAYS * DAY_MS) {
    return { error: `the window from "from" to "to" must be at most ${STATS_MAX_SPAN_DAYS} days` };
  }
  return { from, to };
}

/**
 * `GET /stats`: one statement (`otpStats.stats`, packages/db/src/sql/otp-stats.ts) over the OTPs
 * created in the window, real traffic and test targets' codes apart, bounded by
 * {@link STATS_STATEMENT_TIMEOUT_MS}. A refusal is a value: the route answers it.
 */
export async function readStats(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock">,
  input: StatsRequest,
  limits: { statementTimeoutMs: number; maxGroups: number } = {
    statementTimeoutMs: STATS_STATEMENT_TIMEOUT_MS,
    maxGroups: STATS_MAX_GROUPS,
  },
): Promise<StatsContent | StatsRefusal> {
  const window = statsWindow(input, deps.clock());
  if ("error" in window) return { ...window, code: "validation" };
  const groupBy = input.group_by ?? "channel";
  if (groupBy === "prefix" && (input.channel === "email" || input.channel === "telegram")) {
    const error = '"group_by" prefix counts the phone channels only: "channel" must be sms or call';
    return { error, code: "validation" };
  }
  const prefixLength = groupBy === "prefix" ? (input.prefix_length ?? STATS_DEFAULT_PREFIX_LENGTH) : null;
  const statement = deps.sql.otpStats.stats({
    from: window.from,
    to: window.to,
    channel: input.channel ?? null,
    groupBy,
    prefixLength: prefixLength ?? STATS_DEFAULT_PREFIX_LENGTH,
    maxGroups: limits.maxGroups,
  });
  let rows: StatsRow[];
  try {
    rows = await withTransaction(deps.pool, async (client) => {
      await client.query(`SET LOCAL statement_timeout = ${Math.trunc(limits.statementTimeoutMs)}`);
      return (await client.query<StatsRow>(statement)).rows;
    });
  } catch (error) {
    if (!someInErrorChain(error, ({ code }) => code === QUERY_CANCELED)) throw error;
    const seconds = limits.statementTimeoutMs / 1000;
    return {
      error: `The statistics took longer than ${seconds} s; ask for a shorter window or one channel`,
      code: "unavailable",
    };
  }
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    channel: input.channel ?? null,
    group_by: groupBy,
    prefix_length: prefixLength,
    groups: rows.filter((row) => !row.test).map((row) => groupOf(groupBy, row)),
    truncated: rows.some((row) => row.group_count > limits.maxGroups),
    test: rows.filter((row) => row.test).map((row) => groupOf(groupBy, row)),
  };
}

/** SQLSTATE 57014: the statement was cancelled, here by its `statement_timeout`. */
const QUERY_CANCELED = "57014";

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
