import { z } from "zod";
import { CHANNELS, type Channel } from "./channels.js";
import type { PhoneRules } from "./phone.js";
import { chatId, email, mustBeSet, phone, required } from "./scalars.js";

/**
 * Test targets (docs/test-targets.md): a fixed code for one channel and target, for app-store
 * review and end-to-end tests. Nothing is ever sent to one; its creates skip limits and the
 * destination policy; everything about its codes is marked `test: true`.
 */

/** The furthest `expires_at` accepted, from now. */
export const TEST_TARGET_MAX_DAYS = 90;
/**
 * The most unexpired test targets, all channels together: every process keeps them all in memory
 * and re-reads them every second, so the list must stay short (docs/test-targets.md).
 */
export const MAX_TEST_TARGETS = 1_000;
/** A test target's code: digits only, at least this many (a fixed code must not be trivially short). */
export const TEST_TARGET_MIN_PASSWORD_DIGITS = 6;
const MAX_PASSWORD_DIGITS = 12;

/** The target of each channel, read exactly as a create of that channel reads it. */
export function testTargetReaders(rules: PhoneRules): Record<Channel, z.ZodType<string>> {
  return {
    sms: phone(rules, "target"),
    call: phone(rules, "target"),
    email: email("target"),
    telegram: chatId("target"),
  };
}

const passwordDigits = z.preprocess(
  (v) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? String(v) : typeof v === "string" ? v.trim() : v,
  z
    .string({ error: (issue) => (issue.input === undefined ? mustBeSet("password") : '"password" must be a string') })
    .regex(new RegExp(`^\\d{${TEST_TARGET_MIN_PASSWORD_DIGITS},${MAX_PASSWORD_DIGITS}}$`), {
      error: `"password" must be ${TEST_TARGET_MIN_PASSWORD_DIGITS} to ${MAX_PASSWORD_DIGITS} digits`,
    }),
);

const instant = z.preprocess(
  (v) => (typeof v === "string" ? v.trim() : v),
  z
    .string({
      error: (issue) => (issue.input === undefined ? mustBeSet("expires_at") : '"expires_at" must be a string'),
    })
    .pipe(
      z.iso.datetime({
        offset: true,
        error: '"expires_at" must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T00:00:00Z',
      }),
    )
    .transform((v) => new Date(v)),
);

/**
 * `POST /test-targets`: `target` must read by its channel's rules (`testTargetReaders`), and
 * `canonicalTestTarget` gives the form it is stored in; whether `expires_at` is in the future and
 * within TEST_TARGET_MAX_DAYS is checked against the API's clock.
 */
export function testTargetRequest(rules: PhoneRules) {
  const readers = testTargetReaders(rules);
  return z
    .object({
      channel: required(z.enum(CHANNELS, { error: `"channel" must be one of ${CHANNELS.join(", ")}` })),
      target: z.unknown().meta({ description: "A phone (sms, call), an email or a chat id (telegram)." }),
      password: required(passwordDigits).meta({ description: "The fixed code: 6 to 12 digits." }),
      expires_at: required(instant).meta({
        description: `When it stops being a test target; at most ${TEST_TARGET_MAX_DAYS} days ahead.`,
      }),
    })
    .superRefine((value, ctx) => {
      const target = readers[value.channel].safeParse(value.target);
      if (target.success) return;
      for (const issue of target.error.issues)
        ctx.addIssue({ code: "custom", message: issue.message, path: ["target"] });
    });
}
export type TestTargetInput = z.output<ReturnType<typeof testTargetRequest>>;
/** A `POST /test-targets` with its target in canonical form. */
export type TestTargetRequest = Omit<TestTargetInput, "target"> & { readonly target: string };

/** The request with its target in the form a create of its channel stores (after `testTargetRequest` passed). */
export function canonicalTestTarget(rules: PhoneRules, input: TestTargetInput): TestTargetRequest {
  return { ...input, target: testTargetReaders(rules)[input.channel].parse(input.target) };
}

/** A test target as `GET /test-targets` lists it: its code is never shown. */
export const TestTargetContent = z
  .object({
    channel: z.enum(CHANNELS),
    target: z.string(),
    expires_at: z.iso.datetime(),
    created_at: z.iso.datetime(),
    unreadable: z
      .literal(true)
      .optional()
      .describe("Its code was stored under another OTP_SECRET: creates to it are refused until it is posted again."),
  })
  .meta({ id: "TestTarget" });
export type TestTargetContent = z.infer<typeof TestTargetContent>;

export const TestTargetResponse = z
  .object({ status: z.literal(true), content: TestTargetContent })
  .meta({ id: "TestTargetResponse" });
export const TestTargetsResponse = z
  .object({ status: z.literal(true), content: z.object({ test_targets: z.array(TestTargetContent) }) })
  .meta({ id: "TestTargetsResponse" });
