import { describe, expect, it } from "vitest";
import { DEFAULT_PHONE_RULES } from "./phone.js";
import { DEFAULT_CONVERSION_GUARD, DEFAULT_POLICY, mergePolicy } from "./policy.js";
import { policyChangeSchema } from "./policy-schemas.js";
import { validationMessage } from "./validation-message.js";

const schema = policyChangeSchema(DEFAULT_PHONE_RULES);
const parse = (body: unknown) => {
  const result = schema.safeParse(body);
  if (!result.success) throw new Error(validationMessage(result.error));
  return result.data;
};
const problem = (body: unknown) => {
  const result = schema.safeParse(body);
  return result.success ? undefined : validationMessage(result.error);
};

describe("POST /policy bodies", () => {
  it("reads the issue's example, upper-casing countries, canonicalising the safelist, filling the guard", () => {
    const change = parse({
      mode: "enforce",
      countries: { allow: ["kz", "UZ"], deny: [] },
      prefixes: { deny: ["88216", 99290] },
      safelist: ["+7 701 123 45 67"],
      prefix_limits: [{ digits: 6, minutes: 60, rate: "30" }],
      country_limits: [{ country: "*", minutes: 60, rate: 500 }],
      budget: [{ minutes: 1440, rate: 20000 }],
      conversion_guard: { min_sent: 10 },
    });
    expect(change).toEqual({
      mode: "enforce",
      countries: { allow: ["KZ", "UZ"], deny: [] },
      prefixes: { deny: ["88216", "99290"] },
      safelist: ["77011234567"],
      prefix_limits: [{ digits: 6, minutes: 60, rate: 30 }],
      country_limits: [{ country: "*", minutes: 60, rate: 500 }],
      budget: [{ minutes: 1440, rate: 20000 }],
      conversion_guard: { ...DEFAULT_CONVERSION_GUARD, min_sent: 10 },
    });
  });

  it("names the problem, unknown keys included", () => {
    expect(problem({ mode: "on" })).toBe('"mode" must be off, monitor or enforce');
    expect(problem({ countries: { allow: ["XX"] } })).toMatch(/must hold ISO 3166 alpha-2 country codes/);
    expect(problem({ prefixes: { deny: ["+7"] } })).toMatch(/must hold 1 to 15 digits/);
    expect(problem({ safelist: ["123"] })).toMatch(/"safelist" is not a valid phone number/);
    expect(problem({ prefix_limit: [] })).toMatch(/prefix_limit/);
    expect(problem({ conversion_guard: { min_conversion: 2 } })).toMatch(/"min_conversion" must be between 0 and 1/);
    // The default lag is 180 s: a 2-minute window would never hold a code old enough to count.
    expect(problem({ conversion_guard: { window_minutes: 2 } })).toMatch(
      /"lag_seconds" must be shorter than "window_minutes"/,
    );
    expect(problem({ conversion_guard: { window_minutes: 5, lag_seconds: 300 } })).toMatch(
      /"lag_seconds" must be shorter/,
    );
    expect(problem({ conversion_guard: { window_minutes: 5, lag_seconds: 299 } })).toBeUndefined();
    expect(problem({ conversion_guard: { block_minutes: 60, max_block_minutes: 30 } })).toMatch(
      /"max_block_minutes" must not be shorter/,
    );
    expect(problem({ country_limits: [{ country: "KZ", minutes: 60 }] })).toMatch(/"rate" parameter must be set/);
  });
});

describe("mergePolicy", () => {
  it("replaces each key present, down to countries.allow, keeps the absent ones, null removes the guard", () => {
    const first = mergePolicy(DEFAULT_POLICY, parse({ mode: "monitor", countries: { allow: ["KZ"], deny: ["RU"] } }));
    const second = mergePolicy(first, parse({ countries: { deny: [] }, conversion_guard: {} }));
    expect(second).toEqual({
      ...DEFAULT_POLICY,
      mode: "monitor",
      countries: { allow: ["KZ"], deny: [] },
      conversion_guard: DEFAULT_CONVERSION_GUARD,
    });
    expect(mergePolicy(second, parse({ conversion_guard: null })).conversion_guard).toBeNull();
    expect(mergePolicy(second, parse({ budget: [{ minutes: 1, rate: 1 }] })).conversion_guard).toEqual(
      DEFAULT_CONVERSION_GUARD,
    );
  });
});
