import { z } from "zod";
import { CHANNELS } from "./channels.js";
import { VERIFICATION_STATUSES } from "./lifecycle.js";
import { LimitRule } from "./limit-requests.js";
import { POLICY_DECISIONS, POLICY_RULES } from "./policy.js";
import { DISPATCH_ROUTES } from "./routes.js";

/**
 * Every `status_code` the service answers with. The original product used `ip_limit`, `phone_limit` and
 * `email_limit`; the rest are ours, in the same style.
 */
/** What a destination policy refuses a phone channel's create with (docs/policy.md, "Refusals"). */
export const POLICY_REFUSAL_CODES = [
  "destination_blocked",
  "hook_denied",
  "budget_exceeded",
  "country_limit",
  "prefix_limit",
  "prefix_suspended",
] as const;

export const ERROR_CODES = [
  "validation",
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "payload_too_large",
  "headers_too_large",
  "request_timeout",
  "ip_limit",
  "phone_limit",
  "email_limit",
  "chat_id_limit",
  ...POLICY_REFUSAL_CODES,
  "attempts_exceeded",
  "check_throttled",
  "lookup_throttled",
  "conflict",
  "unavailable",
  "internal",
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The HTTP status that goes with each code (the original product answered limits with 400; this service answers 429, docs/migrating.md). */
export const HTTP_STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  validation: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  headers_too_large: 431,
  request_timeout: 408,
  ip_limit: 429,
  phone_limit: 429,
  email_limit: 429,
  chat_id_limit: 429,
  destination_blocked: 403,
  hook_denied: 403,
  budget_exceeded: 429,
  country_limit: 429,
  prefix_limit: 429,
  prefix_suspended: 429,
  attempts_exceeded: 200,
  check_throttled: 200,
  lookup_throttled: 429,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

export const ErrorResponse = z
  .object({ status: z.literal(false), status_code: ErrorCode, message: z.string() })
  .meta({ id: "ErrorResponse", description: "The original product's failure envelope." });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

export const OkResponse = z.object({ status: z.literal(true) }).meta({ id: "OkResponse" });

/** Success with data: `{status: true, content: {...}}`. */
export function contentResponse<T extends z.ZodType>(content: T) {
  return z.object({ status: z.literal(true), content });
}

/** `POST /sms` and friends: the original product answered `{status: true}`; `content.id` is our addition. */
export const CreatedResponse = contentResponse(
  z.object({ id: z.uuid().meta({ description: "Id of the OTP, for `GET /otp/{id}`." }) }),
).meta({ id: "CreatedResponse" });

/**
 * Checks always answer HTTP 200; `status` says whether the code is right. `check_throttled` comes
 * with a `Retry-After` header: the target's wrong guesses have run out for now.
 */
export const CheckResponse = z
  .object({
    status: z.boolean(),
    status_code: z.enum(["attempts_exceeded", "check_throttled"]).optional(),
    message: z.string().optional(),
  })
  .meta({ id: "CheckResponse" });

/** `POST /otp/{id}/check`: a check's answer, with the OTP's wrong checks left (null without a limit). */
export const CheckByIdResponse = CheckResponse.extend({
  content: z.object({ attempts_left: z.number().int().nullable() }),
}).meta({ id: "CheckByIdResponse" });

export const LimitsContent = z.object({
  ips: z.array(LimitRule),
  phones: z.array(LimitRule).optional(),
  emails: z.array(LimitRule).optional(),
  chat_ids: z.array(LimitRule).optional(),
});
export const LimitsResponse = contentResponse(LimitsContent).meta({ id: "LimitsResponse" });

export const TargetResponse = contentResponse(z.object({ target: z.string() })).meta({ id: "TargetResponse" });
export const PasswordResponse = contentResponse(z.object({ password: z.string() })).meta({
  id: "PasswordResponse",
});

export const DELIVERY_STATUSES = ["pending", "delivered", "failed", "expired", "canceled"] as const;
export const DeliveryStatus = z.enum(DELIVERY_STATUSES);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/** `GET /otp/{id}`'s `policy`: how the destination policy judged the code; absent while the policy was off. */
export const OtpPolicyContent = z.object({
  decision: z.enum(POLICY_DECISIONS),
  rule: z.enum(POLICY_RULES).optional(),
});
export type OtpPolicyContent = z.infer<typeof OtpPolicyContent>;

/** `GET /otp/{id}`'s `verification` (docs/lifecycle.md, "Verification status"), as `otp_event_data` builds it. */
export const VerificationContent = z.object({
  status: z.enum(VERIFICATION_STATUSES),
  /** For `canceled`: `canceled` (DELETE), `superseded` (a resend), `consumed`, `sibling_consumed`. */
  reason: z.string().nullable(),
  /** Wrong checks left before the code is dead; null without OTP_MAX_CHECK_ATTEMPTS. */
  attempts_left: z.number().int().nullable(),
  /** Seconds left while `pending`; else null. */
  expires_in: z.number().int().nullable(),
  verified_at: z.iso.datetime({ offset: true }).nullable(),
});
export type VerificationContent = z.infer<typeof VerificationContent>;

export const OtpStatusContent = z.object({
  id: z.uuid(),
  channel: z.enum(CHANNELS),
  created_at: z.iso.datetime(),
  expire_at: z.iso.datetime(),
  delivery: z.object({
    status: DeliveryStatus,
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    delivered_at: z.iso.datetime().nullable(),
  }),
  policy: OtpPolicyContent.optional(),
  verification: VerificationContent,
  metadata: z.record(z.string(), z.string()),
  /** A test target's OTP (docs/test-targets.md): never sent. */
  test: z.boolean(),
});
export type OtpStatusContent = z.infer<typeof OtpStatusContent>;
export const OtpStatusResponse = contentResponse(OtpStatusContent).meta({ id: "OtpStatusResponse" });

/**
 * The one health answer of both services (`GET /health`): `status` is true, and the HTTP status
 * 200, when PostgreSQL answers and RabbitMQ is connected; else false and 503. The dispatcher adds
 * the work queues (OTP channels, `webhook`) it is consuming right now.
 */
export const HealthContent = z.object({
  database: z.boolean(),
  broker: z.boolean(),
  consuming: z.array(z.enum(DISPATCH_ROUTES)).optional(),
});
export type HealthContent = z.infer<typeof HealthContent>;
export const HealthResponse = z.object({ status: z.boolean(), content: HealthContent }).meta({ id: "HealthResponse" });

export function healthAnswer(content: HealthContent): { status: boolean; content: HealthContent } {
  return { status: content.database && content.broker, content };
}
