import { z } from "zod";
import { CHANNEL_INFO, Channel, PASSWORD_PLACEHOLDER } from "./channels.js";
import { metadata } from "./metadata.js";
import type { PhoneRules } from "./phone.js";
import {
  chatId,
  email,
  ip,
  line,
  mustBeSet,
  optional,
  password,
  phone,
  positiveInt,
  required,
  target,
  text,
} from "./scalars.js";
import { type CreateTexts, SMS_LENGTH_RULE, sentTextProblems, TEXT_LIMITS } from "./sent-texts.js";

export interface RequestLimits {
  /** `OTP_MAX_LIFETIME`: the longest `lifetime` accepted, in seconds. */
  readonly maxLifetime: number;
  /** `OTP_CODE_LENGTH`: the digits of a generated code, for the length of the text it goes into. */
  readonly codeLength: number;
  /** `OTP_PHONE_CHECK` and `OTP_DEFAULT_REGION`. */
  readonly phone: PhoneRules;
  /** The shortest client-supplied `password` (6 under OTP_ASSURANCE=strict); 1 when absent. */
  readonly minPasswordLength?: number;
}

type TextFields = { password?: string | undefined } & Record<string, unknown>;

/**
 * A create request may omit `password` only if the service has somewhere to put the code it
 * generates: some text field must contain `{password}` (docs/api.md, "Send a code"). A call speaks the code itself.
 */
function passwordOrPlaceholder(fields: readonly string[]) {
  return (value: TextFields, ctx: z.RefinementCtx) => {
    if (value.password !== undefined) return;
    const hasPlaceholder = fields.some((f) => {
      const v = value[f];
      return typeof v === "string" && v.includes(PASSWORD_PLACEHOLDER);
    });
    if (!hasPlaceholder) {
      ctx.addIssue({
        code: "custom",
        path: ["password"],
        message: `${mustBeSet("password")} (or put ${PASSWORD_PLACEHOLDER} in ${fields
          .map((f) => `"${f}"`)
          .join(" or ")} to have a code generated)`,
      });
    }
  };
}

/** The parameters every create takes besides its target and texts. */
function commonCreateFields(limits: RequestLimits) {
  const minLength = limits.minPasswordLength ?? 1;
  return {
    ip: optional(ip()),
    password: optional(
      minLength > 1
        ? password().refine((v) => v.length >= minLength, {
            error: `"password" must be at least ${minLength} characters (OTP_ASSURANCE=strict)`,
          })
        : password(),
    ).meta({
      description: `The code. Omit it to have one generated; it replaces ${PASSWORD_PLACEHOLDER} in the texts.`,
    }),
    lifetime: positiveInt("lifetime", limits.maxLifetime).meta({
      description: `Seconds the code stays valid (1 to ${limits.maxLifetime}).`,
    }),
    metadata: metadata(),
  };
}

/** The create schemas' side of {@link sentTextProblems}: the request's code, or a generated one's length of digits. */
function textsFit(channel: Channel, limits: RequestLimits) {
  return (value: CreateTexts & { password?: string | undefined }, ctx: z.RefinementCtx) => {
    const code = value.password ?? "0".repeat(limits.codeLength);
    for (const problem of sentTextProblems(channel, value, code)) {
      ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
    }
  };
}

/**
 * Request schemas for creating OTPs. Keys are in the order the original product validated them, so that the
 * first complaint a client sees is the one the original product would have made.
 */
export function createOtpRequests(limits: RequestLimits) {
  const { ip, password, lifetime, metadata } = commonCreateFields(limits);
  return {
    sms: z
      .object({
        ip,
        phone: phone(limits.phone),
        password,
        message: required(text("message")).meta({ description: SMS_LENGTH_RULE }),
        lifetime,
        metadata,
      })
      .superRefine(passwordOrPlaceholder(["message"]))
      .superRefine(textsFit("sms", limits)),
    call: z.object({ ip, phone: phone(limits.phone), password, lifetime, metadata }),
    email: z
      .object({
        ip,
        email: email(),
        password,
        subject: required(line("subject", TEXT_LIMITS.subject)),
        lifetime,
        text: optional(text("text", TEXT_LIMITS.body)),
        html: optional(text("html", TEXT_LIMITS.body)),
        metadata,
      })
      .superRefine(passwordOrPlaceholder(["subject", "text", "html"]))
      .superRefine(textsFit("email", limits)),
    telegram: z
      .object({
        ip,
        chat_id: chatId(),
        password,
        message: required(text("message")).meta({
          description: `At most ${TEXT_LIMITS.telegramUnits} UTF-16 code units once {password} is replaced.`,
        }),
        lifetime,
        metadata,
      })
      .superRefine(passwordOrPlaceholder(["message"]))
      .superRefine(textsFit("telegram", limits)),
  } as const;
}

export type OtpRequests = ReturnType<typeof createOtpRequests>;
export type CreateSmsRequest = z.output<OtpRequests["sms"]>;
export type CreateCallRequest = z.output<OtpRequests["call"]>;
export type CreateEmailRequest = z.output<OtpRequests["email"]>;
export type CreateTelegramRequest = z.output<OtpRequests["telegram"]>;

const requiredPassword = required(password());

/** The end user's address on a check or a lookup: counted apart from other addresses (docs/security.md). */
const requesterIp = optional(
  ip().meta({
    description:
      "IP address of the end user who typed the code. Optional; when given, wrong guesses are also counted per address, so that one address cannot lock the target out.",
  }),
);

/** Check requests: the target, read as on creation, the code the user typed, and optionally the user's address. */
export function createCheckRequests(phoneRules: PhoneRules) {
  return {
    sms: z.object({ phone: phone(phoneRules), password: requiredPassword, ip: requesterIp }),
    call: z.object({ phone: phone(phoneRules), password: requiredPassword, ip: requesterIp }),
    email: z.object({ email: email(), password: requiredPassword, ip: requesterIp }),
    telegram: z.object({ chat_id: chatId(), password: requiredPassword, ip: requesterIp }),
  } as const;
}
export type CheckRequests = ReturnType<typeof createCheckRequests>;

/** A normalised check request, whatever the channel. */
export interface CheckInput {
  readonly channel: Channel;
  readonly target: string;
  readonly password: string;
}

/** Reads the channel's target out of a parsed check or create request. */
export function targetOf(channel: Channel, request: Record<string, unknown>): string {
  const value = request[CHANNEL_INFO[channel].targetParam];
  if (typeof value !== "string") throw new TypeError(`no ${CHANNEL_INFO[channel].targetParam} in request`);
  return value;
}

/** `GET /target`: who received this code on this channel. */
export const TargetRequest = z.object({
  password: requiredPassword,
  channel: required(Channel),
  ip: requesterIp,
});

/** `GET /password`: the newest live code of this target. */
export const PasswordRequest = z.object({ target: target() });

/** `GET /otp/{id}` path parameter. */
export const OtpIdParam = z.object({ id: z.uuid({ error: '"id" must be a UUID' }) });

/** `POST /otp/{id}/check`: the code the user typed for this OTP, and optionally the user's address. */
export const CheckByIdRequest = z.object({ password: requiredPassword, ip: requesterIp });
