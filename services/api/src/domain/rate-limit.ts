import {
  CHANNEL_INFO,
  type Channel,
  type ErrorCode,
  emailLimitKey,
  LIMIT_MEASURES,
  type LimitMeasure,
  mustBeSet,
} from "@otp/contracts";
import type { CountWindowsParams, MeasuredRule, Sql, TargetKey } from "@otp/db";
import type pg from "pg";
import { ApiError } from "../api-error.js";
import type { DomainDeps } from "./deps.js";

/**
 * Limits: at most `rate` accepted OTPs in any `minutes`-minute window ending now, per channel and
 * per measure (the requester's ip, or the target). `checkLimits` takes a transaction-scoped
 * advisory lock per measure key before it counts, and the caller inserts in the same transaction,
 * so that concurrent requests for one key are counted one after the other and a burst cannot slip
 * through between count and insert. The target's key is the canonical target, or, with
 * `OTP_EMAIL_CANONICAL=true`, the email without its `+tag`: the lock and the count use the same key,
 * so `foo+1@…` and `foo+2@…` are counted one after the other too.
 */

/** Why a request was refused, for the 429 answer (or the webhook's log line). */
export interface Refusal {
  readonly code: Extract<
    ErrorCode,
    | "ip_limit"
    | "phone_limit"
    | "email_limit"
    | "chat_id_limit"
    | "destination_blocked"
    | "hook_denied"
    | "budget_exceeded"
    | "country_limit"
    | "prefix_limit"
    | "prefix_suspended"
    | "conflict"
  >;
  readonly message: string;
  /**
   * Seconds until the request would be accepted, as far as the violated windows tell; at least 1.
   * Undefined for a refusal that waiting does not lift (a destination the policy denies).
   */
  readonly retryAfterSeconds?: number | undefined;
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

const ipRequired = () => new ApiError("validation", `${mustBeSet("ip")} (this channel has ip limits)`);

/**
 * The 400 `checkLimits` gives a request without an ip on a channel with ip rules, asked before the
 * request leaves the process (the pre-send hook hears of the number: docs/policy.md, "The order"),
 * so that bad input is refused before anything else happens. Read without a lock: `checkLimits`
 * still decides under its lock.
 */
export async function requireIpForIpRules(
  deps: Pick<DomainDeps, "pool" | "sql">,
  request: Pick<LimitedRequest, "channel" | "ip" | "ignoreIpRules">,
): Promise<void> {
  if (request.ip !== undefined || request.ignoreIpRules) return;
  const { rows } = await deps.pool.query<{ measure: LimitMeasure }>(
    deps.sql.limitRule.selectRules({ channel: request.channel }),
  );
  if (rows.some((rule) => rule.measure === "ip")) throw ipRequired();
}

/**
 * Locks the request's measure keys for the rest of `client`'s transaction, reads the channel's
 * rules and counts their windows: whether one more OTP is allowed now. A channel with ip rules
 * requires an ip (400 `validation` otherwise), unless they are ignored.
 */
export async function checkLimits(
  client: pg.ClientBase,
  deps: Pick<DomainDeps, "sql" | "clock" | "targets">,
  request: LimitedRequest,
): Promise<LimitCheck> {
  const { limitRule } = deps.sql;
  const ip = request.ignoreIpRules ? undefined : request.ip;
  const key = limitKeyOf(request, deps.targets.emailCanonical);
  const locked = await client.query(limitRule.lockAndReadRules({ channel: request.channel, ip, target: key.value }));
  const all = limitRule.rulesOf(locked.rows[0]);
  const rules = request.ignoreIpRules ? all.filter((r) => r.measure !== "ip") : all;
  if (ip === undefined && rules.some((r) => r.measure === "ip")) throw ipRequired();
  const now = deps.clock();
  const refusal = rules.length > 0 ? await refusalOf(client, deps.sql, { ...request, ip }, key, rules, now) : undefined;
  return { channelHasRules: all.length > 0, now, refusal };
}

/** The key a request's target measure is locked and counted under, and what the windows compare it with. */
interface LimitKey {
  readonly value: string;
  readonly targetKey: TargetKey;
}

function limitKeyOf(request: LimitedRequest, emailCanonical: boolean): LimitKey {
  return emailCanonical && request.channel === "email"
    ? { value: emailLimitKey(request.target), targetKey: "emailLimitKey" }
    : { value: request.target, targetKey: "target" };
}

/** A rule's window as counted: the OTPs accepted after `cutoff`, and the oldest of them. */
interface Window {
  readonly rule: MeasuredRule;
  readonly cutoff: Date;
  readonly count: number;
  readonly oldest: Date | null;
}

async function refusalOf(
  client: pg.ClientBase,
  sql: Sql,
  request: LimitedRequest,
  key: LimitKey,
  rules: readonly MeasuredRule[],
  now: Date,
): Promise<Refusal | undefined> {
  const windows = await countWindows(client, sql, request, key, rules, now);
  // One more OTP breaks a window when `count + 1 > rate`.
  const broken = windows.filter((w) => w.count >= w.rule.rate);
  const first = broken[0];
  if (!first) return undefined;
  // Retry-After: when every broken window has room again, not just the first one reported.
  let retryAfter = 1;
  for (const w of broken) {
    const leaving = await leavingOf(client, sql, request, key, w);
    if (leaving) retryAfter = Math.max(retryAfter, secondsUntilLeaving(leaving, w.rule.minutes, now));
  }
  return refusal(request.channel, first.rule, retryAfter);
}

/** Every rule's window, counted in one statement; in the order of `rules` (ip rules first). */
async function countWindows(
  client: pg.ClientBase,
  sql: Sql,
  request: LimitedRequest,
  key: LimitKey,
  rules: readonly MeasuredRule[],
  now: Date,
): Promise<Window[]> {
  const rulesOf = (measure: LimitMeasure) => rules.filter((r) => r.measure === measure);
  // The cutoffs come from the injected clock, not the database's now().
  const cutoffsOf = (measure: LimitMeasure) =>
    rulesOf(measure).map((r) => new Date(now.getTime() - r.minutes * 60_000));
  const cutoffs: CountWindowsParams["cutoffs"] = { ip: cutoffsOf("ip"), target: cutoffsOf("target") };
  const { rows } = await client.query(
    sql.otpWindows.countWindows({
      channel: request.channel,
      ip: request.ip,
      target: key.value,
      targetKey: key.targetKey,
      cutoffs,
    }),
  );
  const counts = sql.otpWindows.readCounts(rows[0] ?? {}, cutoffs);
  return LIMIT_MEASURES.flatMap((measure) =>
    rulesOf(measure).map((rule, i) => ({
      rule,
      cutoff: cutoffs[measure][i] ?? now,
      count: counts[measure][i]?.count ?? 0,
      oldest: counts[measure][i]?.oldest ?? null,
    })),
  );
}

/**
 * When the OTP whose leaving frees a place in a broken window was accepted. Usually the oldest,
 * which the count found; a later one when the window holds more than `rate` (the rule was lowered).
 */
async function leavingOf(
  client: pg.ClientBase,
  sql: Sql,
  request: LimitedRequest,
  key: LimitKey,
  w: Window,
): Promise<Date | null> {
  const rank = w.count - w.rule.rate + 1;
  if (rank === 1) return w.oldest;
  const value = w.rule.measure === "ip" ? (request.ip ?? "") : key.value;
  const { rows } = await client.query<{ created_at: Date }>(
    sql.otpWindows.nthInWindow(w.rule.measure, {
      channel: request.channel,
      value,
      targetKey: key.targetKey,
      cutoff: w.cutoff,
      rank,
    }),
  );
  return rows[0]?.created_at ?? null;
}

/** Seconds until `enteredAt` leaves a window of `minutes` ending at `now`; rounded up, at least 1. */
function secondsUntilLeaving(enteredAt: Date, minutes: number, now: Date): number {
  return Math.max(1, Math.ceil((enteredAt.getTime() + minutes * 60_000 - now.getTime()) / 1000));
}

/** The refusal naming the rule in perfumerlabs/otp's words. */
function refusal(channel: Channel, rule: MeasuredRule, retryAfterSeconds: number): Refusal {
  const { measure, rate, minutes } = rule;
  const noun = measure === "ip" ? "IP" : CHANNEL_INFO[channel].targetNoun;
  return {
    code: measure === "ip" ? "ip_limit" : CHANNEL_INFO[channel].limitCode,
    message: `${noun} limit has been reached: ${rate} per ${minutes} minute${minutes === 1 ? "" : "s"}`,
    retryAfterSeconds,
  };
}
