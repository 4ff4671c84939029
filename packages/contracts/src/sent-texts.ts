import type { Channel } from "./channels.js";
import { substitutePassword } from "./channels.js";
import { MAX_SMS_SEGMENTS, MAX_TELEGRAM_UNITS, SMS_PART, smsLength, utf16Units } from "./text-units.js";

/**
 * Limits on free text, in the unit each provider counts (text-units.ts): SMS segments, Telegram's
 * UTF-16 code units; an email subject's and body's characters.
 */
export const TEXT_LIMITS = {
  smsSegments: MAX_SMS_SEGMENTS,
  telegramUnits: MAX_TELEGRAM_UNITS,
  subject: 998,
  body: 60_000,
} as const;

/** The SMS length rule, as the API documents it. */
export const SMS_LENGTH_RULE =
  `at most ${MAX_SMS_SEGMENTS} segments once {password} is replaced: ` +
  `${MAX_SMS_SEGMENTS * SMS_PART.gsm7.multipart} GSM-7 septets (extension characters such as € count 2), ` +
  `or ${MAX_SMS_SEGMENTS * SMS_PART.ucs2.multipart} UTF-16 code units for text outside the GSM-7 alphabet`;

/** The texts of a create, `{password}` still in place (those its channel has). */
export interface CreateTexts {
  readonly message?: string | undefined;
  readonly subject?: string | undefined;
  readonly text?: string | null | undefined;
  readonly html?: string | null | undefined;
}

/** A text that will not fit once the code replaces `{password}`: which field, and why. */
export interface TextProblem {
  readonly field: "message" | "subject" | "text" | "html";
  readonly message: string;
}

/**
 * Whether a channel's texts fit their limits (TEXT_LIMITS, in each provider's unit) with `password`
 * in place of `{password}` — measured as sent, since a code can be far longer than the placeholder.
 * The create schemas ask it with the request's code (a generated one's length of digits), and
 * `OTP_RESEND=reuse` asks it again with the live code it would send again (docs/api.md, "Text limits").
 */
export function sentTextProblems(channel: Channel, texts: CreateTexts, password: string): TextProblem[] {
  const sent = (value: string) => substitutePassword(value, password);
  const problems: TextProblem[] = [];
  if (channel === "sms" && texts.message !== undefined) {
    const { segments } = smsLength(sent(texts.message));
    if (segments > TEXT_LIMITS.smsSegments) {
      problems.push({
        field: "message",
        message: `"message" must fit in ${TEXT_LIMITS.smsSegments} SMS segments (${SMS_LENGTH_RULE}); this one takes ${segments}`,
      });
    }
  }
  if (
    channel === "telegram" &&
    texts.message !== undefined &&
    utf16Units(sent(texts.message)) > TEXT_LIMITS.telegramUnits
  ) {
    problems.push({
      field: "message",
      message: `"message" must be at most ${TEXT_LIMITS.telegramUnits} UTF-16 code units, as Telegram counts them (an emoji counts 2)`,
    });
  }
  if (channel === "email") {
    const fields = [
      ["subject", texts.subject, TEXT_LIMITS.subject],
      ["text", texts.text, TEXT_LIMITS.body],
      ["html", texts.html, TEXT_LIMITS.body],
    ] as const;
    for (const [field, value, max] of fields) {
      if (typeof value === "string" && sent(value).length > max) {
        problems.push({ field, message: `"${field}" must be at most ${max} characters once {password} is replaced` });
      }
    }
  }
  return problems;
}
