import { z } from "zod";
import type { Channel } from "./channels.js";

/**
 * The verification lifecycle's shared shapes (docs/lifecycle.md): the event types, the
 * verification statuses, and the webhook message the outbox carries to the dispatchers.
 */

/** Every lifecycle event type, in the order an OTP's life goes through them. */
export const LIFECYCLE_EVENT_TYPES = [
  "otp.created",
  "otp.delivered",
  "otp.delivery_failed",
  "otp.verified",
  "otp.check_failed",
  "otp.max_attempts_reached",
  "otp.expired",
  "otp.canceled",
  "otp.blocked",
] as const;
export const LifecycleEventType = z.enum(LIFECYCLE_EVENT_TYPES);
export type LifecycleEventType = z.infer<typeof LifecycleEventType>;

/** A verification's status, with Twilio Verify's names (docs/lifecycle.md, "Verification status"). */
export const VERIFICATION_STATUSES = ["pending", "approved", "canceled", "max_attempts_reached", "expired"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

/** The routing key, work queue suffix and outbox `channel` of webhook deliveries. */
export const WEBHOOK_ROUTE = "webhook";

/** The version of {@link WebhookMessage}: a dispatcher dead-letters a version it does not know. */
export const WEBHOOK_MESSAGE_VERSION = 1;

/**
 * One webhook delivery: one lifecycle event for one subscription, written to the outbox by
 * `otp_emit` (SQL, migration 0007) in the transaction of the state change it reports, published
 * with routing key {@link WEBHOOK_ROUTE}. The dispatcher reads the subscription's url and secret by
 * `subscription_id` (a deleted subscription's messages are dropped), signs `payload` serialised
 * once, and sends it; `id` is the `webhook-id` every retry keeps, so receivers deduplicate by it.
 * No code and no full target is ever in it: `payload.data.target` is masked.
 */
export const WebhookMessage = z.object({
  v: z.literal(WEBHOOK_MESSAGE_VERSION),
  /** `msg_` + a UUID: the `webhook-id` header. */
  id: z.string().regex(/^msg_[0-9a-f-]{36}$/),
  subscription_id: z.uuid(),
  /** Null for an event without an OTP (`otp.blocked`). */
  otp_id: z.uuid().nullable(),
  type: LifecycleEventType,
  /** The body sent, as JSON: {type, timestamp, data}. */
  payload: z.object({
    type: LifecycleEventType,
    timestamp: z.iso.datetime(),
    data: z.record(z.string(), z.unknown()),
  }),
});
export type WebhookMessage = z.infer<typeof WebhookMessage>;

/** `data` of an event about an OTP, as `otp_event_data` (SQL, migration 0007) builds it. */
export interface LifecycleEventData {
  readonly otp_id: string;
  readonly channel: Channel;
  /** Masked: `7701*****67`, `f***@example.com`. */
  readonly target: string;
  readonly country: string | null;
  readonly metadata: Record<string, string>;
  readonly test: boolean;
  readonly delivery: { status: string; attempts: number; delivered_at: string | null };
  readonly verification: {
    status: VerificationStatus;
    /** Why a canceled code is: `canceled` (DELETE), `superseded`, `consumed`, `sibling_consumed`. */
    reason: string | null;
    attempts_left: number | null;
    expires_in: number | null;
    verified_at: string | null;
  };
}
