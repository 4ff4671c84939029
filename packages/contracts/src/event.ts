import { z } from "zod";
import { Channel } from "./channels.js";

/**
 * The delivery event: what the API publishes and the dispatcher consumes, one per accepted OTP.
 * Versioned so that a dispatcher can refuse (dead-letter) an event it does not understand instead
 * of mis-delivering it. The texts and the code travel sealed (AES-256-GCM, see crypto.ts): neither
 * the outbox table nor a dead-lettered message shows them in plaintext.
 */
export const DELIVERY_EVENT_VERSION = 1;

export const DeliveryEvent = z.object({
  v: z.literal(DELIVERY_EVENT_VERSION),
  /** Stable id of this delivery: AMQP `messageId` and the `Idempotency-Key` of every attempt. */
  id: z.uuid(),
  otp_id: z.uuid(),
  channel: Channel,
  /** Normalised phone digits, lower-case email, or decimal chat id. */
  target: z.string().min(1),
  created_at: z.iso.datetime(),
  /** No attempt is made at or after this instant: a code nobody can use is never sent. */
  expire_at: z.iso.datetime(),
  /** base64url of the sealed {@link DeliveryContent}, bound to `id`. */
  sealed: z.string().min(1),
});
export type DeliveryEvent = z.infer<typeof DeliveryEvent>;

/**
 * What is sealed inside the event: the code and the texts as the client sent them, `{password}`
 * still in place; the dispatcher renders them just before sending.
 */
export const DeliveryContent = z.object({
  password: z.string(),
  message: z.string().optional(),
  subject: z.string().optional(),
  text: z.string().nullable().optional(),
  html: z.string().nullable().optional(),
});
export type DeliveryContent = z.infer<typeof DeliveryContent>;
