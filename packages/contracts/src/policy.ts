import type { Channel } from "./channels.js";
import type { LimitRule } from "./limit-requests.js";

/**
 * The destination policy of the `sms` and `call` channels (docs/policy.md): which numbers may be
 * sent codes at all, and how many, so that SMS pumping cannot run up a bill. One policy per
 * channel, stored in PostgreSQL and read by every API replica within a second.
 */

/** The channels a policy can be set for: those whose targets are phones, paid per message. */
export const POLICY_CHANNELS = ["sms", "call"] as const satisfies readonly Channel[];
export type PolicyChannel = (typeof POLICY_CHANNELS)[number];
export const isPolicyChannel = (channel: Channel): channel is PolicyChannel =>
  (POLICY_CHANNELS as readonly Channel[]).includes(channel);

/** `off`: nothing evaluated (the default); `monitor`: evaluated and recorded, never refused; `enforce`: refused. */
export const POLICY_MODES = ["off", "monitor", "enforce"] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

/**
 * The rules in the order a create is judged by them; the first that objects decides. `safelist`
 * only ever allows; `suspension` is a prefix the conversion guard suspended earlier, and
 * `conversion_guard` the send that makes it suspend one.
 */
export const POLICY_RULES = [
  "safelist",
  "countries",
  "prefixes",
  "hook",
  "budget",
  "country_limits",
  "prefix_limits",
  "suspension",
  "conversion_guard",
] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

/** What the policy made of a create: `would_block` is monitor mode's record of a `block`. */
export const POLICY_DECISIONS = ["allow", "block", "would_block"] as const;
export type PolicyDecision = (typeof POLICY_DECISIONS)[number];

/** A window per prefix of `digits` digits of the number. */
export interface PrefixLimit extends LimitRule {
  readonly digits: number;
}

/** A window per country; `*` applies it to each country separately. */
export interface CountryLimit extends LimitRule {
  readonly country: string;
}

export interface ConversionGuard {
  readonly prefix_digits: number;
  readonly window_minutes: number;
  readonly min_sent: number;
  /** 0 to 1: codes verified ÷ codes sent, below which a prefix is suspended. */
  readonly min_conversion: number;
  /** Codes younger than this are counted only once verified: people need time to type. */
  readonly lag_seconds: number;
  readonly block_minutes: number;
  readonly max_block_minutes: number;
}

export interface Policy {
  readonly mode: PolicyMode;
  readonly countries: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly prefixes: { readonly deny: readonly string[] };
  readonly safelist: readonly string[];
  readonly prefix_limits: readonly PrefixLimit[];
  readonly country_limits: readonly CountryLimit[];
  readonly budget: readonly LimitRule[];
  readonly conversion_guard: ConversionGuard | null;
}

/** A channel's policy before anything is set: off, and empty. */
export const DEFAULT_POLICY: Policy = {
  mode: "off",
  countries: { allow: [], deny: [] },
  prefixes: { deny: [] },
  safelist: [],
  prefix_limits: [],
  country_limits: [],
  budget: [],
  conversion_guard: null,
};

/** The guard's settings a `POST /policy` leaves out: the starting values docs/policy.md explains. */
export const DEFAULT_CONVERSION_GUARD: ConversionGuard = {
  prefix_digits: 6,
  window_minutes: 60,
  min_sent: 20,
  min_conversion: 0.2,
  lag_seconds: 180,
  block_minutes: 60,
  max_block_minutes: 1440,
};

/** The prefix the hook is told and the guard counts under when the policy has no guard. */
export const DEFAULT_PREFIX_DIGITS = DEFAULT_CONVERSION_GUARD.prefix_digits;

/**
 * A `POST /policy/{channel}` body, parsed: each key present replaces that part of the policy, down
 * to `countries.allow`, `countries.deny` and `prefixes.deny`; an absent key keeps it;
 * `conversion_guard: null` removes the guard.
 */
export interface PolicyChange {
  readonly mode?: PolicyMode | undefined;
  readonly countries?: {
    readonly allow?: readonly string[] | undefined;
    readonly deny?: readonly string[] | undefined;
  };
  readonly prefixes?: { readonly deny?: readonly string[] | undefined };
  readonly safelist?: readonly string[] | undefined;
  readonly prefix_limits?: readonly PrefixLimit[] | undefined;
  readonly country_limits?: readonly CountryLimit[] | undefined;
  readonly budget?: readonly LimitRule[] | undefined;
  readonly conversion_guard?: ConversionGuard | null | undefined;
}

const unique = <T>(list: readonly T[]): T[] => [...new Set(list)];

/** `current` with `change` applied. */
export function mergePolicy(current: Policy, change: PolicyChange): Policy {
  return {
    mode: change.mode ?? current.mode,
    countries: {
      allow: unique(change.countries?.allow ?? current.countries.allow),
      deny: unique(change.countries?.deny ?? current.countries.deny),
    },
    prefixes: { deny: unique(change.prefixes?.deny ?? current.prefixes.deny) },
    safelist: unique(change.safelist ?? current.safelist),
    prefix_limits: change.prefix_limits ?? current.prefix_limits,
    country_limits: change.country_limits ?? current.country_limits,
    budget: change.budget ?? current.budget,
    conversion_guard: change.conversion_guard === undefined ? current.conversion_guard : change.conversion_guard,
  };
}
