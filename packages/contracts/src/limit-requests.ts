import { z } from "zod";
import { positiveInt } from "./scalars.js";

/** The bodies of `POST /limit/{channel}` (docs/api.md, "Limits"). */

/** Upper bounds for limit rules: a year, and a rate no client will reach. */
export const RULE_BOUNDS = { maxMinutes: 525_600, maxRate: 1_000_000, maxRules: 20 } as const;

export const LimitRule = z.object({
  minutes: positiveInt("minutes", RULE_BOUNDS.maxMinutes).meta({ description: "Window length in minutes." }),
  rate: positiveInt("rate", RULE_BOUNDS.maxRate).meta({
    description: "Most OTPs accepted in any window of that length.",
  }),
});
export type LimitRule = z.output<typeof LimitRule>;

function rules(name: string) {
  return z
    .preprocess(
      (value) => (value === null ? undefined : value),
      z
        .array(LimitRule, { error: `"${name}" must be an array of {minutes, rate}` })
        .max(RULE_BOUNDS.maxRules, { error: `"${name}" may hold at most ${RULE_BOUNDS.maxRules} rules` })
        .optional(),
    )
    .meta({ description: "Replaces these rules when present; an empty array clears them." });
}

/** `POST /limit/{channel}`: each array present replaces that measure's rules; absent ones are kept. */
export const SetLimitRequests = {
  sms: z.object({ ips: rules("ips"), phones: rules("phones") }),
  call: z.object({ ips: rules("ips"), phones: rules("phones") }),
  email: z.object({ ips: rules("ips"), emails: rules("emails") }),
  telegram: z.object({ ips: rules("ips"), chat_ids: rules("chat_ids") }),
} as const;
