import { WEBHOOK_ROUTE, type WebhookMessage } from "@otp/contracts";
import { H } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import { type SettleDeps, Settling, settle } from "../settle/settle.js";
import type { WebhookOutcome } from "./outcome.js";

/**
 * Carries out a webhook's outcome up to the point where it may be acked, as settle does for a
 * delivery (a retry or dead-letter copy confirmed first), without any OTP status to write: a
 * webhook reports a state change, it is not one. Logged by ids only, never the URL or the payload.
 */
export async function settleWebhook(
  deps: SettleDeps,
  outcome: WebhookOutcome,
  work: WorkMessage,
  signal: AbortSignal,
): Promise<void> {
  if (outcome.kind === "dead") return settle(deps, outcome, work, signal);
  const s = new Settling(deps, work, signal);
  const { message } = outcome;
  const ids = { webhook: message.id, subscription: message.subscription_id, otp: message.otp_id, type: message.type };
  switch (outcome.kind) {
    case "delivered":
      s.count("delivered");
      s.log.info({ ...ids, attempt: outcome.attempt }, "webhook delivered");
      return;
    case "dropped":
      s.count("dropped");
      s.log.info(ids, "webhook dropped: its subscription was deleted");
      return;
    case "retry":
      await s.toDelayQueue("publish the webhook's retry", outcome.delayMs, messageIdOf(s, outcome.message), {
        [H.attempt]: outcome.attempt + 1,
        [H.lastError]: outcome.error,
      });
      s.deps.metrics.retries.inc({ channel: WEBHOOK_ROUTE });
      s.count("retry");
      s.log.info(
        { ...ids, attempt: outcome.attempt, retryInMs: outcome.delayMs, error: outcome.error },
        "webhook attempt failed; retry scheduled",
      );
      return;
    case "deferred": {
      // Untried: the attempt number, and the last attempt's error if there was one, stay as they were.
      const lastError = work.headers[H.lastError];
      await s.toDelayQueue("put the webhook back", outcome.delayMs, messageIdOf(s, outcome.message), {
        [H.attempt]: outcome.attempt,
        ...(lastError === undefined ? {} : { [H.lastError]: lastError }),
      });
      s.count("deferred");
      s.log.debug({ ...ids, attempt: outcome.attempt }, "webhook deferred: its subscription's slots are taken");
    }
  }
}

/** The copy keeps the message id the relay gave it (the outbox row's), else the webhook's own. */
const messageIdOf = (s: Settling, message: WebhookMessage) => s.message.messageId ?? message.id;
