/**
 * Tells "PostgreSQL refused this value" apart from a bug, so that a value validation let through
 * answers 400 rather than 500 (SPEC §5: bad input never produces a 500). Validation is the first
 * line (targets refuse control characters); this is the defence for whatever it misses.
 */

const REJECTED_DATA_CODES = new Set([
  "22021", // character_not_in_repertoire: a NUL byte in text
  "22P02", // invalid_text_representation: a string that is not a valid uuid, integer, ...
  "22P05", // untranslatable_character: a \u0000 escape in jsonb
]);

export function isRejectedData(error: unknown, depth = 0): boolean {
  if (depth > 3 || typeof error !== "object" || error === null) return false;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === "string" && REJECTED_DATA_CODES.has(code)) return true;
  return cause !== undefined && isRejectedData(cause, depth + 1);
}
