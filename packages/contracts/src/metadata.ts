import { z } from "zod";
import { hasControlCharacter } from "./control-characters.js";

/**
 * A create's `metadata` (docs/lifecycle.md, "Metadata"): the client's own labels for an OTP (an
 * order id, a session), returned by `GET /otp/{id}` and carried in its webhooks, never logged.
 * At most {@link METADATA_LIMITS}.pairs string → string pairs; lengths in characters as every
 * other text of the API counts them (UTF-16 code units, zod's `max`).
 */
export const METADATA_LIMITS = { pairs: 10, keyLength: 64, valueLength: 256 } as const;

const { pairs, keyLength, valueLength } = METADATA_LIMITS;
const SHAPE = `an object of at most ${pairs} string values (keys 1 to ${keyLength} characters, values at most ${valueLength})`;

/** The problem with one pair, or undefined. */
function pairProblem(key: string, value: unknown): string | undefined {
  if (key.length < 1 || key.length > keyLength) return `"metadata" keys must be 1 to ${keyLength} characters`;
  if (hasControlCharacter(key)) return `"metadata" keys must not contain control characters`;
  if (typeof value !== "string") return `"metadata.${key}" must be a string`;
  if (value.length > valueLength) return `"metadata.${key}" must be at most ${valueLength} characters`;
  // PostgreSQL's jsonb refuses NUL; line breaks and tabs are text, as in messages.
  if (hasControlCharacter(value, new Set([0x09, 0x0a, 0x0d]))) {
    return `"metadata.${key}" must not contain control characters other than line breaks and tabs`;
  }
  return undefined;
}

/** The metadata parameter: absent or null is no metadata; anything but such an object is refused. */
export const metadata = () =>
  z
    .preprocess(
      (value) => (value === null ? undefined : value),
      z.unknown().transform((value, ctx) => {
        if (value === undefined) return undefined;
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          ctx.addIssue({ code: "custom", message: `"metadata" must be ${SHAPE}` });
          return z.NEVER;
        }
        const entries = Object.entries(value);
        if (entries.length > pairs) {
          ctx.addIssue({
            code: "custom",
            message: `"metadata" must have at most ${pairs} keys, got ${entries.length}`,
          });
          return z.NEVER;
        }
        for (const [key, v] of entries) {
          const problem = pairProblem(key, v);
          if (problem) {
            ctx.addIssue({ code: "custom", message: problem });
            return z.NEVER;
          }
        }
        return Object.fromEntries(entries) as Record<string, string>;
      }),
    )
    .meta({
      type: "object",
      additionalProperties: { type: "string", maxLength: valueLength },
      maxProperties: pairs,
      description:
        `Your labels for this OTP: ${SHAPE}. Returned by \`GET /otp/{id}\` and carried in its webhooks. ` +
        "In a form body: `metadata[key]=value`.",
    });

export type Metadata = Record<string, string>;
