import type { Env } from "./env.js";

/**
 * How the dispatcher delivers the lifecycle's webhooks (docs/webhooks.md, "Delivery"). The API reads
 * `OTP_WEBHOOK_ALLOW_PRIVATE` too (for `POST /webhooks`): one variable, checked at both ends.
 */
export interface WebhookDeliveryConfig {
  /** Whether a receiver may be on a loopback, private or link-local address (checked at every send). */
  readonly allowPrivate: boolean;
  /**
   * How long a webhook is retried after its event (or after a replay from the dead-letter queue)
   * before it is dead-lettered: a webhook does not expire with its code.
   */
  readonly maxAgeMs: number;
  /** One attempt's timeout, connection to the end of the answer. */
  readonly timeoutMs: number;
}

export function webhookDeliveryOf(e: Env): WebhookDeliveryConfig {
  return {
    allowPrivate: e.OTP_WEBHOOK_ALLOW_PRIVATE,
    maxAgeMs: e.OTP_WEBHOOK_MAX_AGE,
    timeoutMs: e.OTP_WEBHOOK_TIMEOUT,
  };
}
