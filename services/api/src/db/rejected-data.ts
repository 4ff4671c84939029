/**
 * Tells "PostgreSQL refused this value" apart from a bug, so that a value validation let through
 * answers 400 rather than 500 (bad input never produces a 500: docs/api.md, "Errors"). Validation is the first
 * line (targets refuse control characters); this is the defence for whatever it misses.
 */

import { someInErrorChain } from "./error-chain.js";

const REJECTED_DATA_CODES = new Set([
  "22021", // character_not_in_repertoire: a NUL byte in text
  "22P02", // invalid_text_representation: a string that is not a valid uuid, integer, ...
  "22P05", // untranslatable_character: a \u0000 escape in jsonb
]);

export function isRejectedData(error: unknown): boolean {
  return someInErrorChain(error, ({ code }) => typeof code === "string" && REJECTED_DATA_CODES.has(code));
}
