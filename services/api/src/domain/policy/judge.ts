import {
  type ConversionGuard,
  type CountryLimit,
  DEFAULT_PREFIX_DIGITS,
  type LimitRule,
  type Policy,
  type PolicyChannel,
  type PolicyRule,
  type PrefixLimit,
  shownPrefix,
} from "@otp/contracts";
import type { PolicyCountsParams, PolicyCountsRow, PolicyWindowKind } from "@otp/db";
import type { Refusal } from "../rate-limit.js";

/**
 * The destination policy's judgement, without I/O (docs/policy.md, "The order"): the lists before
 * anything is counted, then, from the counts `otp_policy_counts` returns, the budget, the country
 * and prefix limits, an active suspension and the conversion guard. The first rule that objects
 * decides.
 */

/** What a rule objected to; `refusal` is what enforce mode answers (monitor mode records `rule` only). */
export interface Objection {
  readonly rule: PolicyRule;
  readonly refusal: Refusal;
  /** For a window rule: the windows that are full, for `Retry-After`. */
  readonly full?: readonly FullWindow[];
  /** For the conversion guard: the suspension to record. */
  readonly trip?: Trip;
}

export interface FullWindow {
  readonly kind: PolicyWindowKind;
  readonly value: string;
  readonly cutoff: Date;
  readonly rule: LimitRule;
}

export interface Trip {
  readonly prefix: string;
  readonly sent: number;
  readonly verified: number;
  readonly strikes: number;
  readonly until: Date;
}

/** The windows of one create: each rule that applies to the number, with what it counts under. */
export interface Plan {
  readonly params: PolicyCountsParams;
  readonly budget: readonly LimitRule[];
  readonly country: readonly CountryLimit[];
  readonly prefix: readonly { readonly limit: PrefixLimit; readonly prefix: string }[];
  readonly guard: ConversionGuard | null;
}

const sets = new WeakMap<Policy, { safelist: Set<string>; allow: Set<string>; deny: Set<string> }>();
function setsOf(policy: Policy) {
  let found = sets.get(policy);
  if (!found) {
    const { safelist, countries } = policy;
    found = { safelist: new Set(safelist), allow: new Set(countries.allow), deny: new Set(countries.deny) };
    sets.set(policy, found);
  }
  return found;
}

/** The prefix the hook is told and the guard counts under. */
export const guardPrefixOf = (policy: Policy, target: string): string =>
  target.slice(0, policy.conversion_guard?.prefix_digits ?? DEFAULT_PREFIX_DIGITS);

/** The safelist, then the country and prefix lists: `safelist` allows, an objection refuses, undefined goes on. */
export function judgeLists(
  policy: Policy,
  channel: PolicyChannel,
  target: string,
  country: string,
): Objection | "safelist" | undefined {
  const { safelist, allow, deny } = setsOf(policy);
  if (safelist.has(target)) return "safelist";
  if ((allow.size > 0 && !allow.has(country)) || deny.has(country)) {
    const message = `Country ${country} is not allowed for ${channel}`;
    return { rule: "countries", refusal: { code: "destination_blocked", message } };
  }
  const denied = policy.prefixes.deny.find((prefix) => target.startsWith(prefix));
  if (denied !== undefined) {
    const message = `Prefix ${shownPrefix(denied, target.length)} is denied for ${channel}`;
    return { rule: "prefixes", refusal: { code: "destination_blocked", message } };
  }
  return undefined;
}

const minutesAgo = (now: Date, minutes: number) => new Date(now.getTime() - minutes * 60_000);

/** What `otp_policy_counts` is asked for this create. */
export function planOf(policy: Policy, channel: PolicyChannel, target: string, country: string, now: Date): Plan {
  const countryLimits = policy.country_limits.filter((l) => l.country === "*" || l.country === country);
  const prefix = policy.prefix_limits.map((limit) => ({ limit, prefix: target.slice(0, limit.digits) }));
  const guard = policy.conversion_guard;
  const params: PolicyCountsParams = {
    channel,
    now,
    budgetCutoffs: policy.budget.map((r) => minutesAgo(now, r.minutes)),
    budgetCaps: policy.budget.map((r) => r.rate),
    country,
    countryCutoffs: countryLimits.map((r) => minutesAgo(now, r.minutes)),
    countryCaps: countryLimits.map((r) => r.rate),
    prefixes: prefix.map((p) => p.prefix),
    prefixCutoffs: prefix.map((p) => minutesAgo(now, p.limit.minutes)),
    prefixCaps: prefix.map((p) => p.limit.rate),
    guardPrefix: guard ? guardPrefixOf(policy, target) : null,
    guardCutoff: guard ? minutesAgo(now, guard.window_minutes) : null,
    guardRipe: guard ? new Date(now.getTime() - guard.lag_seconds * 1000) : null,
    guardMemory: guard ? minutesAgo(now, guard.max_block_minutes) : null,
    targetPrefixes: Array.from({ length: target.length }, (_, i) => target.slice(0, i + 1)),
  };
  return { params, budget: policy.budget, country: countryLimits, prefix, guard };
}

const per = (r: LimitRule) => `${r.rate} per ${r.minutes} minute${r.minutes === 1 ? "" : "s"}`;

/** The counted rules in their order; undefined when every one lets one more code through. */
export function judgeCounts(plan: Plan, row: PolicyCountsRow, now: Date): Objection | undefined {
  const { channel, country } = plan.params;
  const full = (
    kind: PolicyWindowKind,
    counts: readonly number[],
    rules: readonly { value: string; rule: LimitRule }[],
  ) =>
    rules.flatMap(({ value, rule }, i) =>
      (counts[i] ?? 0) >= rule.rate ? [{ kind, value, rule, cutoff: minutesAgo(now, rule.minutes) }] : [],
    );
  const budget = full(
    "budget",
    row.budget_counts,
    plan.budget.map((rule) => ({ value: "", rule })),
  );
  if (budget[0]) {
    const message = `Budget of ${channel} has been reached: ${per(budget[0].rule)}`;
    return { rule: "budget", refusal: { code: "budget_exceeded", message }, full: budget };
  }
  const byCountry = full(
    "country",
    row.country_counts,
    plan.country.map((rule) => ({ value: country, rule })),
  );
  if (byCountry[0]) {
    const message = `Country limit has been reached for ${country}: ${per(byCountry[0].rule)}`;
    return { rule: "country_limits", refusal: { code: "country_limit", message }, full: byCountry };
  }
  const byPrefix = full(
    "prefix",
    row.prefix_counts,
    plan.prefix.map((p) => ({ value: p.prefix, rule: p.limit })),
  );
  if (byPrefix[0]) {
    const shown = shownPrefix(byPrefix[0].value, plan.params.targetPrefixes.length);
    const message = `Prefix limit has been reached for ${shown}: ${per(byPrefix[0].rule)}`;
    return { rule: "prefix_limits", refusal: { code: "prefix_limit", message }, full: byPrefix };
  }
  if (row.suspended_prefix !== null && row.suspended_until !== null && row.suspended_until > now) {
    const shown = shownPrefix(row.suspended_prefix, plan.params.targetPrefixes.length);
    const message = `Prefix ${shown} is suspended for ${channel} until ${row.suspended_until.toISOString()}`;
    const retryAfterSeconds = secondsBetween(now, row.suspended_until);
    return { rule: "suspension", refusal: { code: "prefix_suspended", message, retryAfterSeconds } };
  }
  return judgeGuard(plan, row, now);
}

function judgeGuard(plan: Plan, row: PolicyCountsRow, now: Date): Objection | undefined {
  const { guard } = plan;
  const prefix = plan.params.guardPrefix;
  const sent = row.guard_sent ?? 0;
  const verified = row.guard_verified ?? 0;
  // The ratio, not `verified >= min_conversion * sent`: 0.07 * 100 is 7.000000000000001 in floating
  // point, which would suspend a prefix whose 7 of 100 are exactly the threshold (docs/policy.md).
  if (!guard || prefix === null || sent < guard.min_sent || sent === 0 || verified / sent >= guard.min_conversion) {
    return undefined;
  }
  const strikes = strikesAfter(guard, row, now);
  const minutes = Math.min(guard.block_minutes * 2 ** (strikes - 1), guard.max_block_minutes);
  const until = new Date(now.getTime() + minutes * 60_000);
  const message =
    `Prefix ${shownPrefix(prefix, plan.params.targetPrefixes.length)} is suspended for ${plan.params.channel} for ${minutes} minutes: ` +
    `${verified} of ${sent} codes verified in ${guard.window_minutes} minutes`;
  return {
    rule: "conversion_guard",
    refusal: { code: "prefix_suspended", message, retryAfterSeconds: minutes * 60 },
    trip: { prefix, sent, verified, strikes, until },
  };
}

/**
 * The suspensions in a row this one makes: one more than the prefix's last streak when that ended
 * less than `max_block_minutes` ago (each doubles the last), else a first one. A lift sets the
 * streak to 0. (The same memory keeps the streak's evidence counted: `otp_policy_counts`.)
 */
function strikesAfter(guard: ConversionGuard, row: PolicyCountsRow, now: Date): number {
  const previous = row.guard_strikes ?? 0;
  if (previous === 0 || row.guard_until === null) return 1;
  const recent = now.getTime() - row.guard_until.getTime() <= guard.max_block_minutes * 60_000;
  return recent ? previous + 1 : 1;
}

/** Whole seconds from `from` to `to`, rounded up, at least 1. */
export function secondsBetween(from: Date, to: Date): number {
  return Math.max(1, Math.ceil((to.getTime() - from.getTime()) / 1000));
}
