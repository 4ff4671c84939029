import { WEBHOOK_ROUTE } from "@otp/contracts";
import type { MessageHandler } from "../consume/consumer.js";
import { AbandonedError, holdUntilDone } from "../consume/hold.js";
import { workMessage } from "../message/work-message.js";
import type { PipelineDeps } from "../pipeline.js";
import { handleWebhook, type WebhookHandlerDeps } from "./handle-webhook.js";
import { settleWebhook } from "./settle-webhook.js";
import type { SubscriptionSlots } from "./slots.js";
import type { SubscriptionSource } from "./subscriptions.js";

/** What the webhooks' pipeline needs beyond the channels': the subscriptions, the sender, its window. */
export interface WebhookPipelineDeps
  extends Omit<PipelineDeps, "transport" | "keys">,
    Pick<WebhookHandlerDeps, "sender" | "maxAgeMs"> {
  readonly subscriptions: SubscriptionSource;
  /** Each subscription's attempts in flight here, capped (slots.ts). */
  readonly slots: SubscriptionSlots;
}

/**
 * The consumer's handler for the webhooks' work queue (docs/webhooks.md), the same path as a
 * channel's (pipeline.ts): read the message once, decide (handleWebhook), settle, ack; a message
 * given up on purpose is abandoned. The subscription read is held through a database outage.
 */
export function webhookPipeline(deps: WebhookPipelineDeps): MessageHandler {
  const { metrics } = deps;
  const log = deps.log.child({ channel: WEBHOOK_ROUTE });
  const decideDeps: Omit<WebhookHandlerDeps, "subscription"> = {
    sender: deps.sender,
    policy: deps.policy,
    maxAgeMs: deps.maxAgeMs,
    now: deps.now,
    deliveryLimit: deps.deliveryLimit,
    observeAttempt: (seconds) => metrics.attemptDuration.observe({ channel: WEBHOOK_ROUTE }, seconds),
    slots: deps.slots,
  };
  const settleDeps = { ...deps, log };

  return async (consumed, { abandon, forceStop }) => {
    const work = workMessage(WEBHOOK_ROUTE, consumed);
    metrics.inFlight.inc({ channel: WEBHOOK_ROUTE });
    try {
      const subscription = (id: string) =>
        holdUntilDone("read the webhook's subscription", () => deps.subscriptions.get(id), abandon, log);
      const outcome = await handleWebhook({ ...decideDeps, subscription }, work, forceStop);
      await settleWebhook(settleDeps, outcome, work, abandon);
      return "ack";
    } catch (error) {
      if (!(error instanceof AbandonedError)) throw error;
      log.debug({ id: work.messageId, reason: error.message }, "abandoned; the broker redelivers it");
      return "abandon";
    } finally {
      metrics.inFlight.dec({ channel: WEBHOOK_ROUTE });
    }
  };
}
