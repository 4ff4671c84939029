import {
  type CountryCode,
  isSupportedCountry,
  Metadata,
  type PhoneNumber,
  parsePhoneNumberWithError,
} from "libphonenumber-js/max";

/**
 * Phone numbers in one canonical form (docs/api.md, "Conventions"): the E.164 digits without `+`,
 * so that limits, storage, lookups and delivery all see one spelling of a number. Parsed with the
 * numbering plans of libphonenumber's `max` metadata, the only one that can tell a valid number
 * from a merely possible one.
 */

/** `OTP_PHONE_CHECK`: how sure the numbering plan must be that a number exists before it is used. */
export const PHONE_CHECKS = ["valid", "possible", "off"] as const;
export type PhoneCheck = (typeof PHONE_CHECKS)[number];

export interface PhoneRules {
  readonly check: PhoneCheck;
  /** `OTP_DEFAULT_REGION`: the country whose national forms (`8…`, `0…`) are understood; none when undefined. */
  readonly defaultRegion: CountryCode | undefined;
}

/** The default: valid numbers only, international forms only. */
export const DEFAULT_PHONE_RULES: PhoneRules = { check: "valid", defaultRegion: undefined };

export type PhoneReading =
  | { readonly ok: true; readonly phone: string }
  | { readonly ok: false; readonly problem: string };

export const MIN_PHONE_DIGITS = 3;

/**
 * A number's last digits that no prefix shown outside the service holds — a statistics group, a
 * refusal's message — whatever prefix length was configured or asked for: a prefix of 11 digits
 * of an 11-digit number is that person's number (docs/security.md, "Logs").
 */
export const HIDDEN_LAST_DIGITS = 4;

/** `prefix` as shown for a number of `numberLength` digits: cut before its last HIDDEN_LAST_DIGITS, marked `…`. */
export function shownPrefix(prefix: string, numberLength: number): string {
  const shown = Math.max(0, numberLength - HIDDEN_LAST_DIGITS);
  return prefix.length <= shown ? prefix : `${prefix.slice(0, shown)}…`;
}
export const MAX_PHONE_DIGITS = 20;

/** What people write between digits: spaces (any), dots, dashes, parentheses. */
const SEPARATORS = /[\s().-]/g;

/** The region's national prefix (KZ `8`, GB `0`, US `1`), if it has one. */
export function nationalPrefixOf(region: CountryCode): string | undefined {
  const metadata = new Metadata();
  metadata.selectNumberingPlan(region);
  // Present in the metadata and used by the library, but missing from its type declarations.
  const plan = metadata.numberingPlan as unknown as { nationalPrefix?: () => string | undefined } | undefined;
  return plan?.nationalPrefix?.() || undefined;
}

/** True for an ISO 3166 alpha-2 code the numbering plans know (upper case). */
export function isPhoneRegion(value: string): value is CountryCode {
  return /^[A-Z]{2}$/.test(value) && isSupportedCountry(value);
}

function parse(text: string, region?: CountryCode): PhoneNumber | undefined {
  try {
    return parsePhoneNumberWithError(text, region);
  } catch {
    return undefined;
  }
}

/**
 * The ways `digits` may be read, most likely first. With a `+` only as international. Without
 * one: as international digits (the original product's form), after dropping a leading `00` or
 * `011` international prefix; and, with a default region, as a national number of that region
 * (which also understands the region's own international prefix, e.g. KZ `810`). The national
 * reading comes first only when the digits start with the region's national prefix: `87019998877`
 * in KZ is national, `77011234567` is international everywhere.
 */
function readings(digits: string, plus: boolean, rules: PhoneRules, nationalPrefix: string | undefined) {
  const international = () => {
    if (plus) return parse(`+${digits}`);
    if (digits.startsWith("00")) return parse(`+${digits.slice(2)}`);
    if (digits.startsWith("011")) return parse(`+${digits.slice(3)}`);
    return parse(`+${digits}`);
  };
  const region = rules.defaultRegion;
  if (plus || region === undefined) return [international];
  const national = () => parse(digits, region);
  return nationalPrefix !== undefined && digits.startsWith(nationalPrefix)
    ? [national, international]
    : [international, national];
}

/**
 * Reads phone numbers under `rules`: returns a function from what a client sent (separators and
 * a `+` allowed) to the canonical digits, or the problem to report after the parameter's name.
 *
 * The first reading the numbering plan calls valid wins. Failing that, `possible` takes the first
 * reading of a possible length, and `off` does too but otherwise keeps the digits as given (the
 * behaviour before numbering plans), so an accepted number has the same canonical form in every
 * mode that accepts it.
 */
export function phoneReader(rules: PhoneRules): (input: string) => PhoneReading {
  let reader = readers.get(rules);
  if (reader === undefined) {
    reader = createReader(rules);
    readers.set(rules, reader);
  }
  return reader;
}

/** One reader per rules object: a reader looks the region's national prefix up once. */
const readers = new WeakMap<PhoneRules, (input: string) => PhoneReading>();

function createReader(rules: PhoneRules): (input: string) => PhoneReading {
  const nationalPrefix = rules.defaultRegion === undefined ? undefined : nationalPrefixOf(rules.defaultRegion);
  const invalid =
    rules.defaultRegion === undefined
      ? "is not a valid phone number: send it in international format, with its country code (e.g. 77011234567)"
      : `is not a valid phone number, in international format or national for ${rules.defaultRegion}`;
  return (input) => {
    const compact = input.replace(SEPARATORS, "");
    const plus = compact.startsWith("+");
    const digits = plus ? compact.slice(1) : compact;
    if (!/^\d+$/.test(digits) || digits.length < MIN_PHONE_DIGITS || digits.length > MAX_PHONE_DIGITS) {
      return { ok: false, problem: `must be ${MIN_PHONE_DIGITS} to ${MAX_PHONE_DIGITS} digits` };
    }
    const parsed = readings(digits, plus, rules, nationalPrefix).map((read) => read());
    const valid = parsed.find((p) => p?.isValid());
    if (valid) return { ok: true, phone: valid.number.slice(1) };
    if (rules.check === "valid") return { ok: false, problem: invalid };
    const possible = parsed.find((p) => p?.isPossible());
    if (possible) return { ok: true, phone: possible.number.slice(1) };
    if (rules.check === "possible") return { ok: false, problem: invalid.replace("a valid", "a possible") };
    // Kept as given, but for the international prefix `00` (with or without `+`): no E.164 number
    // starts with 0, so `0088216…` and `88216…` are one number and must be one key (limits, policy
    // prefixes) — as long as what remains is still a number of the accepted length.
    const international = digits.startsWith("00") && digits.length - 2 >= MIN_PHONE_DIGITS;
    return { ok: true, phone: international ? digits.slice(2) : digits };
  };
}

/**
 * The national significant number of a stored phone (`77019998877` → `7019998877`), which every
 * way of writing the number contains: what to look for when cutting the number out of a text. The
 * digits themselves when the number does not parse.
 */
export function nationalDigitsOf(phone: string): string {
  const digits = phone.replace(/\D/g, "");
  return parse(`+${digits}`)?.nationalNumber ?? digits;
}

/**
 * The country of numbers whose country the numbering plans cannot tell: non-geographic ranges
 * (+800, +882, +883 …) and, under `OTP_PHONE_CHECK=possible|off`, numbers no plan knows. The
 * destination policy lists and counts them under this code (ISO 3166's "unknown or unspecified").
 */
export const UNKNOWN_COUNTRY = "ZZ";

/** The ISO 3166 alpha-2 country of a canonical phone (`77011234567` → `KZ`), or {@link UNKNOWN_COUNTRY}. */
export function countryOfPhone(phone: string): string {
  return parse(`+${phone}`)?.country ?? UNKNOWN_COUNTRY;
}
