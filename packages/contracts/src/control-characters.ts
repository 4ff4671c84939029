/**
 * C0 and C1 control characters, DEL, and the Unicode line and paragraph separators, except those
 * in `allowed`. Nothing a phone, an email, a chat id or a header contains; and PostgreSQL refuses
 * NUL in text outright (SQLSTATE 22021), so a target holding one must stop here as a 400.
 */
export function hasControlCharacter(value: string, allowed: ReadonlySet<number> = new Set()): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
    if (control && !allowed.has(code)) return true;
  }
  return false;
}

/** Unicode's format characters (category Cf): zero-width spaces and joiners, bidi marks and overrides. */
const FORMAT_CHARACTER = /\p{Cf}/u;

/**
 * Whether `value` holds an invisible format character: what a code must not contain, since a code
 * of a zero-width space alone shows nothing, and a direction mark or override makes the text the
 * code is put in read otherwise on the user's screen.
 */
export function hasFormatCharacter(value: string): boolean {
  return FORMAT_CHARACTER.test(value);
}
