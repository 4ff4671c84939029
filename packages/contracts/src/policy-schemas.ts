import { z } from "zod";
import { LimitRule, RULE_BOUNDS } from "./limit-requests.js";
import { isPhoneRegion, type PhoneRules, UNKNOWN_COUNTRY } from "./phone.js";
import { DEFAULT_CONVERSION_GUARD, POLICY_MODES, POLICY_RULES, type PolicyChange } from "./policy.js";
import { contentResponse } from "./responses.js";
import { phone, positiveInt } from "./scalars.js";

/** The bodies and answers of `POST/GET /policy/{channel}` and its blocks (docs/policy.md). */

/** How long the lists may grow: enough for any real policy, bounded so one request cannot be huge. */
export const POLICY_BOUNDS = { countries: 300, prefixes: 1000, safelist: 10_000, maxPrefixDigits: 15 } as const;

const nullAsAbsent = (value: unknown) => (value === null ? undefined : value);

function list<T extends z.ZodType>(name: string, item: T, max: number, what: string) {
  return z.preprocess(
    nullAsAbsent,
    z
      .array(item, { error: `"${name}" must be an array of ${what}` })
      .max(max, { error: `"${name}" may hold at most ${max} entries` })
      .optional(),
  );
}

const country = (name: string) =>
  z
    .string({ error: `"${name}" must be country codes` })
    .trim()
    .toUpperCase()
    .refine((v) => v === UNKNOWN_COUNTRY || isPhoneRegion(v), {
      error: `"${name}" must hold ISO 3166 alpha-2 country codes such as KZ (${UNKNOWN_COUNTRY}: unknown)`,
    });

const prefix = (name: string) =>
  z
    .preprocess(
      (v) => (typeof v === "number" && Number.isSafeInteger(v) ? String(v) : v),
      z.string({ error: `"${name}" must hold strings of digits` }),
    )
    .pipe(
      z.string().regex(new RegExp(`^\\d{1,${POLICY_BOUNDS.maxPrefixDigits}}$`), {
        error: `"${name}" must hold 1 to ${POLICY_BOUNDS.maxPrefixDigits} digits of E.164 numbers, without +`,
      }),
    );

const digits = (name: string) => positiveInt(name, POLICY_BOUNDS.maxPrefixDigits);

/** Seconds from 0 to a day, as a number or a numeric string. */
const lagSeconds = z.preprocess(
  (v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z
    .number({ error: '"lag_seconds" must be an integer' })
    .int({ error: '"lag_seconds" must be an integer' })
    .min(0, { error: '"lag_seconds" must be between 0 and 86400' })
    .max(86_400, { error: '"lag_seconds" must be between 0 and 86400' }),
);

const ratio = z.preprocess(
  (v) => (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v),
  z
    .number({ error: '"min_conversion" must be a number' })
    .min(0, { error: '"min_conversion" must be between 0 and 1' })
    .max(1, { error: '"min_conversion" must be between 0 and 1' }),
);

/** The guard as given: every field optional (the defaults fill in), `null` removes the guard. */
const ConversionGuardInput = z
  .strictObject({
    prefix_digits: digits("prefix_digits").optional(),
    window_minutes: positiveInt("window_minutes", RULE_BOUNDS.maxMinutes).optional(),
    min_sent: positiveInt("min_sent", RULE_BOUNDS.maxRate).optional(),
    min_conversion: ratio.optional(),
    lag_seconds: lagSeconds.optional(),
    block_minutes: positiveInt("block_minutes", RULE_BOUNDS.maxMinutes).optional(),
    max_block_minutes: positiveInt("max_block_minutes", RULE_BOUNDS.maxMinutes).optional(),
  })
  .transform((g) => ({ ...DEFAULT_CONVERSION_GUARD, ...definedOnly(g) }))
  .refine((g) => g.max_block_minutes >= g.block_minutes, {
    error: '"max_block_minutes" must not be shorter than "block_minutes"',
  })
  // An unverified code counts once it is `lag_seconds` old, and only inside the window: a window no
  // longer than the lag would never count one, and the guard would never trip.
  .refine((g) => g.lag_seconds < g.window_minutes * 60, {
    error:
      '"lag_seconds" must be shorter than "window_minutes" (unverified codes count once that old, within the window)',
  });

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const PrefixLimit = z.strictObject({ digits: digits("digits"), ...LimitRule.shape });
const CountryLimit = z.strictObject({
  country: z.union([z.literal("*"), country("country")], {
    error: '"country" must be a country code such as KZ, or "*"',
  }),
  ...LimitRule.shape,
});

/** `POST /policy/{channel}`; `phoneRules` read the safelist's numbers into their canonical form. */
export function policyChangeSchema(phoneRules: PhoneRules) {
  return z.strictObject({
    mode: z.preprocess(
      nullAsAbsent,
      z.enum(POLICY_MODES, { error: '"mode" must be off, monitor or enforce' }).optional(),
    ),
    countries: z.preprocess(
      nullAsAbsent,
      z
        .strictObject({
          allow: list("allow", country("allow"), POLICY_BOUNDS.countries, "country codes"),
          deny: list("deny", country("deny"), POLICY_BOUNDS.countries, "country codes"),
        })
        .optional(),
    ),
    prefixes: z.preprocess(
      nullAsAbsent,
      z.strictObject({ deny: list("deny", prefix("deny"), POLICY_BOUNDS.prefixes, "digit strings") }).optional(),
    ),
    safelist: list("safelist", phone(phoneRules, "safelist"), POLICY_BOUNDS.safelist, "phone numbers"),
    prefix_limits: list("prefix_limits", PrefixLimit, RULE_BOUNDS.maxRules, "{digits, minutes, rate}"),
    country_limits: list("country_limits", CountryLimit, RULE_BOUNDS.maxRules, "{country, minutes, rate}"),
    budget: list("budget", LimitRule, RULE_BOUNDS.maxRules, "{minutes, rate}"),
    conversion_guard: ConversionGuardInput.nullable().optional(),
  });
}

/** Type check: what the schema parses is a change `mergePolicy` takes. */
export type ParsedPolicyChange = z.output<ReturnType<typeof policyChangeSchema>> extends PolicyChange ? true : never;

export const PolicyContent = z
  .object({
    mode: z.enum(POLICY_MODES),
    countries: z.object({ allow: z.array(z.string()), deny: z.array(z.string()) }),
    prefixes: z.object({ deny: z.array(z.string()) }),
    safelist: z.array(z.string()),
    prefix_limits: z.array(z.object({ digits: z.number().int(), minutes: z.number().int(), rate: z.number().int() })),
    country_limits: z.array(z.object({ country: z.string(), minutes: z.number().int(), rate: z.number().int() })),
    budget: z.array(LimitRule),
    conversion_guard: z
      .object({
        prefix_digits: z.number().int(),
        window_minutes: z.number().int(),
        min_sent: z.number().int(),
        min_conversion: z.number(),
        lag_seconds: z.number().int(),
        block_minutes: z.number().int(),
        max_block_minutes: z.number().int(),
      })
      .nullable(),
  })
  .meta({ id: "Policy" });
export const PolicyResponse = contentResponse(PolicyContent).meta({ id: "PolicyResponse" });

export const PolicyBlock = z.object({
  prefix: z.string(),
  rule: z.enum(POLICY_RULES),
  sent: z.number().int().meta({ description: "Codes counted when the guard suspended the prefix." }),
  verified: z.number().int(),
  since: z.iso.datetime(),
  until: z.iso.datetime(),
});
export type PolicyBlock = z.infer<typeof PolicyBlock>;
export const PolicyBlocksResponse = contentResponse(z.object({ blocks: z.array(PolicyBlock) })).meta({
  id: "PolicyBlocksResponse",
});

export const PrefixParam = z.object({ prefix: z.string().regex(/^\d{1,15}$/) });
