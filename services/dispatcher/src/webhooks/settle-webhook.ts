import { WEBHOOK_ROUTE, type WebhookMessage } from "@otp/contracts";
import { H } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import { deadLetter, type SettleDeps, Settling } from "../settle/settle.js";
import { FIRST_TRIED_HEADER } from "./handle-webhook.js";
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
  const s = new Settling(deps, work, signal);
  // An unreadable message has no webhook to name: its line names the message id, as a delivery's does.
  if (outcome.kind === "dead") return deadLetter(s, outcome, outcome.message && idsOf(outcome.message));
  const { message } = outcome;
  const ids = idsOf(message);
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
        ...(outcome.firstTriedAt === undefined ? {} : { [FIRST_TRIED_HEADER]: outcome.firstTriedAt }),
      });
      s.deps.metrics.retries.inc({ channel: WEBHOOK_ROUTE });
      s.count("retry");
      s.log.info(
        { ...ids, attempt: outcome.attempt, retryInMs: outcome.delayMs, error: outcome.error },
        "webhook attempt failed; retry scheduled",
      );
      return;
    case "deferred": {
      // Untried: the attempt number, and the last attempt's error if there was one, stay as they were;
      // the deferrals in a row are counted, for the next one's longer wait.
      const lastError = work.headers[H.lastError];
      await s.toDelayQueue("put the webhook back", outcome.delayMs, messageIdOf(s, outcome.message), {
        [H.attempt]: outcome.attempt,
        [H.deferrals]: outcome.deferrals,
        ...(lastError === undefined ? {} : { [H.lastError]: lastError }),
      });
      s.count("deferred");
      s.log.debug(
        { ...ids, attempt: outcome.attempt, deferrals: outcome.deferrals, retryInMs: outcome.delayMs },
        "webhook deferred: its subscription's slots are taken",
      );
    }
  }
}

/** What every line about a webhook names (docs/webhooks.md, "Delivery"): never its URL or payload. */
const idsOf = (message: WebhookMessage) => ({
  webhook: message.id,
  subscription: message.subscription_id,
  otp: message.otp_id,
  type: message.type,
});

/** The copy keeps the message id the relay gave it (the outbox row's), else the webhook's own. */
const messageIdOf = (s: Settling, message: WebhookMessage) => s.message.messageId ?? message.id;
