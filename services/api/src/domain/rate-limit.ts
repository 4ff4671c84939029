import {
  CHANNEL_INFO,
  type Channel,
  type ErrorCode,
  type LimitMeasure,
  type LimitRule,
  mustBeSet,
} from "@otp/contracts";
import type { TableNames } from "@otp/db";
import type pg from "pg";
import { ApiError } from "../errors.js";
import type { DomainDeps } from "./deps.js";

/**
 * Limits: at most `rate` accepted OTPs in any `minutes`-minute window ending now, per channel and
 * per measure (the requester's ip, or the target). `checkLimits` takes a transaction-scoped
 * advisory lock per measure key before it counts, and the caller inserts in the same transaction,
 * so that concurrent requests for one key are counted one after the other and a burst cannot slip
 * through between count and insert.
 */

/** Why a request was refused, for the 429 answer (or the webhook's log line). */
export interface Refusal {
  readonly code: Extract<ErrorCode, "ip_limit" | "phone_limit" | "email_limit" | "chat_id_limit">;
  readonly message: string;
  /** Seconds until the request would be accepted, as far as the violated windows tell; at least 1. */
  readonly retryAfterSeconds: number;
}

export interface LimitedRequest {
  readonly channel: Channel;
  /** Normalised: phone digits, lower-case email, decimal chat id. */
  readonly target: string;
  readonly ip?: string | undefined;
  /** Webhook OTPs: the caller is Telegram's server, not the end user, so ip rules cannot apply. */
  readonly ignoreIpRules?: boolean | undefined;
}

export interface LimitCheck {
  /** False when the channel has no rules at all, ignored ip rules included. */
  readonly channelHasRules: boolean;
  /** The time read once the locks were held (a request that waited for another comes after it). */
  readonly now: Date;
  /** Set when one more OTP would break a rule: the first such rule, ip rules first. */
  readonly refusal: Refusal | undefined;
}

/**
 * Locks the request's measure keys for the rest of `client`'s transaction, reads the channel's
 * rules and counts their windows: whether one more OTP is allowed now. A channel with ip rules
 * requires an ip (400 `validation` otherwise), unless they are ignored.
 */
export async function checkLimits(
  client: pg.ClientBase,
  deps: Pick<DomainDeps, "tables" | "clock">,
  request: LimitedRequest,
): Promise<LimitCheck> {
  const t = deps.tables;
  const { channel, target } = request;
  const ip = request.ignoreIpRules ? undefined : request.ip;
  const locked = await client.query<{ rules: unknown }>(rulesAndLocksStatement(t), [
    channel,
    ip === undefined ? null : limitLockKey(t.schema, channel, "ip", ip),
    limitLockKey(t.schema, channel, "target", target),
  ]);
  const all = parseRules(locked.rows[0]?.rules ?? []);
  const rules = request.ignoreIpRules ? all.filter((r) => r.measure !== "ip") : all;
  if (ip === undefined && rules.some((r) => r.measure === "ip")) {
    throw new ApiError("validation", `${mustBeSet("ip")} (this channel has ip limits)`);
  }
  const now = deps.clock();
  const refusal = rules.length > 0 ? await refusalOf(client, t, { ...request, ip }, rules, now) : undefined;
  return { channelHasRules: all.length > 0, now, refusal };
}

interface MeasuredRule extends LimitRule {
  readonly measure: LimitMeasure;
}

async function refusalOf(
  client: pg.ClientBase,
  t: TableNames,
  request: LimitedRequest,
  rules: readonly MeasuredRule[],
  now: Date,
): Promise<Refusal | undefined> {
  const cutoffs = cutoffsOf(rules, now);
  const query = countQuery(t, rules, request, cutoffs);
  const counted = await client.query(query.text, query.values);
  const broken = violations(windowCounts(rules, counted.rows[0] ?? {}));
  const first = broken[0];
  if (!first) return undefined;
  // Retry-After: when every broken window has room again, not just the first one reported.
  let retryAfter = 1;
  for (const v of broken) {
    const rank = leavingRank(v);
    const value = v.rule.measure === "ip" ? (request.ip ?? "") : request.target;
    const leaving =
      rank === 1
        ? v.oldest
        : await nthOldestInWindow(
            client,
            t,
            request.channel,
            v.rule.measure,
            value,
            cutoffs[rules.indexOf(v.rule)] ?? now,
            rank,
          );
    if (leaving) retryAfter = Math.max(retryAfter, secondsUntilLeaving(leaving, v.rule.minutes, now));
  }
  return refusal(request.channel, first, retryAfter);
}

/** The advisory lock key of one measure value. Ip keys are always locked before target keys. */
function limitLockKey(schema: string, channel: Channel, measure: LimitMeasure, value: string): string {
  return `otp:${schema}:limit:${channel}:${measure}:${value}`;
}

/**
 * Reads the channel's rules and takes the locks in one round trip. The locks are taken only for
 * measures that have rules (and the ip lock only when the request has an ip to lock); the select
 * list is evaluated left to right, so the ip lock always comes first and two requests cannot wait
 * for each other in opposite orders.
 */
function rulesAndLocksStatement(t: TableNames): string {
  return `WITH r AS (SELECT measure, position, minutes, rate FROM ${t.limitRule} WHERE channel = $1)
SELECT
  coalesce((SELECT json_agg(json_build_array(measure, minutes, rate) ORDER BY measure, position) FROM r), '[]') AS rules,
  CASE WHEN $2::text IS NOT NULL AND EXISTS (SELECT 1 FROM r WHERE measure = 'ip')
    THEN pg_advisory_xact_lock(hashtextextended($2::text, 0)) END AS ip_locked,
  CASE WHEN EXISTS (SELECT 1 FROM r WHERE measure = 'target')
    THEN pg_advisory_xact_lock(hashtextextended($3::text, 0)) END AS target_locked`;
}

function parseRules(json: unknown): MeasuredRule[] {
  return (json as [LimitMeasure, number, number][]).map(([measure, minutes, rate]) => ({ measure, minutes, rate }));
}

const countStatements = new Map<string, string>();

/** The alias of a measure's subquery in {@link countQuery}. */
const MEASURE_ALIAS: Readonly<Record<LimitMeasure, string>> = { ip: "i", target: "t" };

/**
 * The names of the `index`-th window's columns of a measure in the counting row: spelt here only,
 * so that the query that names them and {@link windowCounts} that reads them cannot drift apart.
 */
function windowColumns(measure: LimitMeasure, index: number): { count: string; oldest: string } {
  const alias = MEASURE_ALIAS[measure];
  return { count: `${alias}n${index}`, oldest: `${alias}o${index}` };
}

/**
 * One statement that counts, for every rule, the accepted OTPs of its window and finds the oldest of
 * them: `count(*) FILTER (WHERE created_at > cutoff)` per rule over one index range scan per measure.
 * The cutoffs come from the injected clock, not `now()`. Parameters: the channel, the ip (when there
 * are ip rules), the target (when there are target rules), then one cutoff per rule in `rules`
 * order (ip rules first).
 */
function countQuery(
  t: TableNames,
  rules: readonly MeasuredRule[],
  request: { channel: Channel; ip?: string | undefined; target: string },
  cutoffs: readonly Date[],
): { text: string; values: unknown[] } {
  const nIp = rules.filter((r) => r.measure === "ip").length;
  const nTarget = rules.length - nIp;
  const values: unknown[] = [request.channel];
  if (nIp > 0) values.push(request.ip);
  if (nTarget > 0) values.push(request.target);
  values.push(...cutoffs);
  const cacheKey = `${t.schema}:${nIp}:${nTarget}`;
  let text = countStatements.get(cacheKey);
  if (!text) {
    let next = values.length - cutoffs.length + 1;
    // The otp table's columns are named like the measures: `ip`, `target`.
    const sub = (measure: LimitMeasure, valueParam: number, n: number) => {
      const bounds = Array.from({ length: n }, () => `$${next++}::timestamptz`);
      const columns = bounds.flatMap((cutoff, i) => {
        const names = windowColumns(measure, i);
        return [
          `count(*) FILTER (WHERE created_at > ${cutoff})::int AS ${names.count}`,
          `min(created_at) FILTER (WHERE created_at > ${cutoff}) AS ${names.oldest}`,
        ];
      });
      return `(SELECT ${columns.join(", ")} FROM ${t.otp}
   WHERE channel = $1 AND ${measure} = $${valueParam} AND created_at > least(${bounds.join(", ")})) AS ${MEASURE_ALIAS[measure]}`;
    };
    const from: string[] = [];
    if (nIp > 0) from.push(sub("ip", 2, nIp));
    if (nTarget > 0) from.push(sub("target", nIp > 0 ? 3 : 2, nTarget));
    text = `SELECT * FROM ${from.join(",\n ")}`;
    countStatements.set(cacheKey, text);
  }
  return { text, values };
}

interface WindowCount {
  readonly rule: MeasuredRule;
  readonly count: number;
  readonly oldest: Date | null;
}

/** Pairs the row of {@link countQuery} with the rules it counted. */
function windowCounts(rules: readonly MeasuredRule[], row: Record<string, unknown>): WindowCount[] {
  let ip = 0;
  let target = 0;
  return rules.map((rule) => {
    const names = windowColumns(rule.measure, rule.measure === "ip" ? ip++ : target++);
    return {
      rule,
      count: Number(row[names.count] ?? 0),
      oldest: (row[names.oldest] as Date | null) ?? null,
    };
  });
}

function cutoffsOf(rules: readonly MeasuredRule[], now: Date): Date[] {
  return rules.map((r) => new Date(now.getTime() - r.minutes * 60_000));
}

/** The rules one more OTP would break: `count + 1 > rate`. Ip rules come first (they are sorted so). */
function violations(counts: readonly WindowCount[]): WindowCount[] {
  return counts.filter((c) => c.count >= c.rule.rate);
}

/**
 * For a violated window holding `count` OTPs under `rate`: which of them (1 = the oldest) must leave
 * the window before one more fits. Usually the oldest; more when the rule was lowered later.
 */
function leavingRank(v: WindowCount): number {
  return v.count - v.rule.rate + 1;
}

/** Seconds until `enteredAt` leaves a window of `minutes` ending at `now`; rounded up, at least 1. */
function secondsUntilLeaving(enteredAt: Date, minutes: number, now: Date): number {
  return Math.max(1, Math.ceil((enteredAt.getTime() + minutes * 60_000 - now.getTime()) / 1000));
}

function refusal(channel: Channel, first: WindowCount, retryAfterSeconds: number): Refusal {
  const { measure, rate, minutes } = first.rule;
  const noun = measure === "ip" ? "IP" : CHANNEL_INFO[channel].targetNoun;
  return {
    code: measure === "ip" ? "ip_limit" : CHANNEL_INFO[channel].limitCode,
    message: `${noun} limit has been reached: ${rate} per ${minutes} minute${minutes === 1 ? "" : "s"}`,
    retryAfterSeconds,
  };
}

/** When a window holds more than `rate` OTPs, the one whose leaving frees a place. Rare: rules lowered. */
async function nthOldestInWindow(
  client: pg.ClientBase,
  t: TableNames,
  channel: Channel,
  measure: LimitMeasure,
  value: string,
  cutoff: Date,
  rank: number,
): Promise<Date | null> {
  const column = measure === "ip" ? "ip" : "target";
  const { rows } = await client.query<{ created_at: Date }>(
    `SELECT created_at FROM ${t.otp} WHERE channel = $1 AND ${column} = $2 AND created_at > $3
     ORDER BY created_at OFFSET $4 LIMIT 1`,
    [channel, value, cutoff, rank - 1],
  );
  return rows[0]?.created_at ?? null;
}
