/**
 * Text lengths in the units the providers count (docs/api.md, "Text limits"): an SMS in GSM-7
 * septets or UCS-2 code units, split into segments; a Telegram message in UTF-16 code units.
 * Written here rather than taken from a package because the rule is the documented contract of
 * the API, and the alphabet is a fixed table (3GPP TS 23.038).
 */

/** The GSM 03.38 default alphabet: one septet each. */
const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
/** Its extension table: an escape septet plus one, so two each. */
const GSM7_EXTENSION = new Set("\f^{}\\[~]|€");

/** Septets per part of a concatenated GSM-7 SMS (160 alone), UCS-2 code units per part (70 alone). */
export const SMS_PART = {
  gsm7: { single: 160, multipart: 153 },
  ucs2: { single: 70, multipart: 67 },
} as const;

/** The most segments an SMS may take; 11 × 153 = 1,683 GSM-7 septets, at least the 1,600 characters accepted before. */
export const MAX_SMS_SEGMENTS = 11;

/** The most UTF-16 code units a Telegram message may have (Telegram's own limit). */
export const MAX_TELEGRAM_UNITS = 4096;

export interface SmsLength {
  /** GSM-7 when every character is in the GSM alphabet, else UCS-2 (what phones and providers do). */
  readonly encoding: "gsm7" | "ucs2";
  /** Septets (gsm7, extension characters count 2) or UTF-16 code units (ucs2). */
  readonly units: number;
  readonly segments: number;
}

/**
 * How an SMS of `text` is encoded and how many segments it takes. A character never straddles two
 * segments (an escape pair or a surrogate pair moves whole to the next one), as the GSM and UCS-2
 * rules require, so a segment may hold one unit less than its size.
 */
export function smsLength(text: string): SmsLength {
  const characters = [...text];
  const gsm7 = characters.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENSION.has(c));
  const weights = gsm7 ? characters.map((c) => (GSM7_EXTENSION.has(c) ? 2 : 1)) : characters.map((c) => c.length);
  const encoding = gsm7 ? "gsm7" : "ucs2";
  const units = weights.reduce((sum, w) => sum + w, 0);
  if (units <= SMS_PART[encoding].single) return { encoding, units, segments: units === 0 ? 0 : 1 };
  const size = SMS_PART[encoding].multipart;
  let segments = 1;
  let used = 0;
  for (const w of weights) {
    if (used + w > size) {
      segments++;
      used = 0;
    }
    used += w;
  }
  return { encoding, units, segments };
}

/** UTF-16 code units: what Telegram counts (an emoji outside the BMP is 2). */
export function utf16Units(text: string): number {
  return text.length;
}
