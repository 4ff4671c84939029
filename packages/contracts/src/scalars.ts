import { z } from "zod";
import { hasControlCharacter, hasFormatCharacter } from "./control-characters.js";
import { canonicalIp, MAX_IP_LENGTH } from "./ip.js";
import { type PhoneRules, phoneReader } from "./phone.js";

/**
 * Lenient scalars, as the original product accepted them (docs/api.md, "Conventions"): phones, chat ids and passwords may be JSON
 * numbers or strings, integers may be numeric strings, a phone's leading `+` is dropped, emails are
 * trimmed and lower-cased. Every builder takes the parameter name so that a missing value is
 * reported the way the original product reported it: `"phone" parameter must be set`.
 */

export const mustBeSet = (name: string): string => `"${name}" parameter must be set`;

/** Absent, null and blank values all mean "not given", as PHP's `!$var` did in the original product. */
function blankToUndefined(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string" && value.trim() === "") return undefined;
  return value;
}

/** The error callback zod calls for a failed check: "must be set" when absent, else `problem`. */
function errorFor(name: string, problem: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? mustBeSet(name) : `"${name}" ${problem}`);
}

/** Wraps a required parameter so that blank values are reported as missing. */
export function required<T extends z.ZodType>(schema: T) {
  return z.preprocess(blankToUndefined, schema);
}

/** Wraps an optional parameter so that blank values count as absent. */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(blankToUndefined, schema.optional());
}

/**
 * Phone numbers, read under `rules` (phone.ts) into their canonical form: the E.164 digits without
 * `+`. A `+`, a leading `00`/`011`, spaces, dots, dashes and parentheses are accepted; a JSON
 * number too.
 */
export function phone(rules: PhoneRules, name = "phone") {
  const read = phoneReader(rules);
  return required(
    z.preprocess(
      (value) => {
        if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
        if (typeof value === "string") return value.trim();
        return value;
      },
      z
        .string({ error: errorFor(name, "must be a string of digits") })
        .refine((v) => !hasControlCharacter(v), { error: `"${name}" must not contain control characters` })
        .transform((value, ctx) => {
          const reading = read(value);
          if (reading.ok) return reading.phone;
          ctx.addIssue({ code: "custom", message: `"${name}" ${reading.problem}`, abort: true });
          return z.NEVER;
        }),
    ),
  ).meta({
    description:
      "International digits, with or without `+` (e.g. `77011234567`); stored and sent as the E.164 digits " +
      "without `+`. A JSON number is accepted.",
  });
}

/**
 * Telegram chat ids: integers (negative for groups), given as a number or a string. Kept as the
 * decimal string of the integer, without leading zeros; must be a safe integer because it is sent
 * to the Telegram service as a number.
 */
export function chatId(name = "chat_id") {
  return required(
    z.preprocess(
      (value) => {
        if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
        if (typeof value === "string") return value.trim();
        return value;
      },
      z
        .string({ error: errorFor(name, "must be an integer") })
        .regex(/^-?\d{1,16}$/, { error: `"${name}" must be an integer` })
        .refine((v) => Number.isSafeInteger(Number(v)), { error: `"${name}" is out of range` })
        // The integer it is: "01234" and "1234" are one chat (the webhook reads Telegram's numbers so).
        .transform((v) => String(Number(v))),
    ),
  ).meta({ description: "Telegram chat id (integer, negative for groups); a JSON number or a string." });
}

export const MAX_PASSWORD_LENGTH = 128;

/**
 * One-time passwords: any non-blank string, or a whole number, compared exactly after trimming.
 * A number with a fraction or beyond 2^53 is refused rather than stored as its JavaScript spelling
 * (`12345678901234567890` would become `12345678901234567000`, `1.10` would become `1.1`), which
 * would never match the digits the user was shown (docs/api.md, "Conventions").
 */
export function password(name = "password") {
  return z.preprocess(
    (value, ctx) => {
      if (typeof value === "number") {
        if (Number.isSafeInteger(value)) return String(value);
        ctx.addIssue({
          code: "custom",
          message: `"${name}" as a JSON number must be a whole number below 2^53; send a longer code as a string`,
        });
        return z.NEVER;
      }
      if (typeof value === "string") return value.trim();
      return value;
    },
    z
      .string({ error: errorFor(name, "must be a string") })
      .max(MAX_PASSWORD_LENGTH, { error: `"${name}" must be at most ${MAX_PASSWORD_LENGTH} characters` })
      // It replaces {password} in an email's subject too, where a line break would start a header.
      .refine((v) => !hasControlCharacter(v), { error: `"${name}" must not contain control characters` })
      .refine((v) => !hasFormatCharacter(v), { error: `"${name}" must not contain invisible characters` }),
  );
}

/** Email addresses: trimmed, lower-cased, validated. */
export function email(name = "email") {
  return required(
    z.preprocess(
      (value) => (typeof value === "string" ? value.trim().toLowerCase() : value),
      z
        .string({ error: errorFor(name, "must be a string") })
        .max(254, { error: `"${name}" must be at most 254 characters` })
        .pipe(z.email({ error: `"${name}" must be a valid email address` })),
    ),
  ).meta({ description: "Email address; trimmed and compared case-insensitively." });
}

/**
 * The key an email's limits are counted under with `OTP_EMAIL_CANONICAL=true`: the address without
 * a `+tag` in its local part (`foo+1@example.com` → `foo@example.com`), since most mail services
 * deliver both to one mailbox. A local part that is nothing but a tag is kept whole.
 * `EMAIL_LIMIT_KEY_SQL` (packages/db) is the same rule in SQL; a test keeps the two equal.
 */
export function emailLimitKey(address: string): string {
  return address.replace(/^([^@+]+)\+[^@]*@/, "$1@");
}

/** The requester's IP address, IPv4 or IPv6, in its canonical form (ip.ts). */
export function ip(name = "ip") {
  return z
    .preprocess(
      (value) => (typeof value === "string" ? value.trim() : value),
      z
        .string({ error: errorFor(name, "must be a string") })
        .max(MAX_IP_LENGTH, { error: `"${name}" must be at most ${MAX_IP_LENGTH} characters` })
        .refine((v) => !v.includes("%"), { error: `"${name}" must not carry a zone (%…)`, abort: true })
        .transform((value, ctx) => {
          const canonical = canonicalIp(value);
          if (canonical !== undefined) return canonical;
          ctx.addIssue({ code: "custom", message: `"${name}" must be an IPv4 or IPv6 address` });
          return z.NEVER;
        }),
    )
    .meta({
      description:
        "IP address of the end user who asked for the code; limits count it in canonical form (IPv6 compressed " +
        "and lower-case, IPv4-mapped IPv6 as IPv4).",
    });
}

/** Positive integers given as numbers or numeric strings, between 1 and `max`. */
export function positiveInt(name: string, max: number) {
  return required(
    z.preprocess(
      (value) => (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value),
      z
        .number({ error: errorFor(name, "must be an integer") })
        .int({ error: `"${name}" must be an integer` })
        .min(1, { error: `"${name}" must be between 1 and ${max}` })
        .max(max, { error: `"${name}" must be between 1 and ${max}` }),
    ),
  );
}

/**
 * Free text (messages, email bodies): any string up to `max` characters, kept as is. Line breaks
 * and tabs are text; other C0 controls and DEL are refused, as no SMS, chat or mail body needs them.
 * Without `max` the length is checked elsewhere, in the unit the provider counts (requests.ts).
 */
export function text(name: string, max?: number) {
  const string = z.string({ error: errorFor(name, "must be a string") });
  return (
    max === undefined ? string : string.max(max, { error: `"${name}" must be at most ${max} characters` })
  ).refine((v) => !hasControlCharacter(v, LINE_BREAKS_AND_TAB), {
    error: `"${name}" must not contain control characters other than line breaks and tabs`,
  });
}

/**
 * One line of text (an email's subject, which becomes a mail header): no control character at
 * all, so that no CR/LF can end the header and start another.
 */
export function line(name: string, max: number) {
  return z
    .string({ error: errorFor(name, "must be a string") })
    .max(max, { error: `"${name}" must be at most ${max} characters` })
    .refine((v) => !hasControlCharacter(v), { error: `"${name}" must not contain line breaks or control characters` });
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const LINE_BREAKS_AND_TAB: ReadonlySet<number> = new Set([TAB, LF, CR]);

/**
 * The `target` of `GET /password`: a phone, an email or a chat id, trimmed (an email lower-cased).
 * Which stored targets it may stand for is `targetForms`' business.
 */
export function target(name = "target") {
  return required(
    z.preprocess(
      (value) => {
        if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
        if (typeof value !== "string") return value;
        const trimmed = value.trim();
        return trimmed.includes("@") ? trimmed.toLowerCase() : trimmed;
      },
      z
        .string({ error: errorFor(name, "must be a string") })
        .max(254, { error: `"${name}" must be at most 254 characters` })
        .refine((v) => !hasControlCharacter(v), { error: `"${name}" must not contain control characters` }),
    ),
  ).meta({ description: "A phone, an email or a Telegram chat id." });
}

/**
 * The stored targets a `GET /password` target may stand for, as given first: the string itself
 * (with a phone's `+` and separators dropped, as targets were stored before numbering plans), its
 * canonical phone form when it reads as a phone under `rules`, and its integer form when it is
 * one (a chat id). Never a refusal: chat ids and emails are targets too.
 */
export function targetForms(value: string, rules: PhoneRules): string[] {
  const forms = [value];
  // A phone, unless it is a group's chat id (negative).
  if (/^\+?[\d\s().-]+$/.test(value) && !value.startsWith("-")) {
    forms.push(value.replace(/^\+/, "").replace(/[\s().-]/g, ""));
    const reading = phoneReader(rules)(value);
    if (reading.ok) forms.push(reading.phone);
  }
  if (/^-?\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) forms.push(String(Number(value)));
  return [...new Set(forms)];
}
