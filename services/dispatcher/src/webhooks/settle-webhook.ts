import { WEBHOOK_ROUTE } from "@otp/contracts";
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
      await scheduleRetry(s, outcome);
      s.log.info(
        { ...ids, attempt: outcome.attempt, retryInMs: outcome.delayMs, error: outcome.error },
        "webhook attempt failed; retry scheduled",
      );
  }
}

/** The same bytes, with the next attempt's number, to the webhooks' delay queue of `delayMs`. */
async function scheduleRetry(
  s: Settling,
  { message, attempt, delayMs, error }: Extract<WebhookOutcome, { kind: "retry" }>,
): Promise<void> {
  const { delayQueues, publisher, metrics } = s.deps;
  const headers = s.copyHeaders({ [H.attempt]: attempt + 1, [H.lastError]: error });
  await s.copy("publish the webhook's retry", async () => {
    const queue = await delayQueues.ensure(WEBHOOK_ROUTE, delayMs);
    try {
      await publisher.publish("", queue, s.message.content, {
        messageId: s.message.messageId ?? message.id,
        headers,
      });
    } catch (publishError) {
      delayQueues.forget(WEBHOOK_ROUTE, delayMs);
      throw publishError;
    }
  });
  metrics.retries.inc({ channel: WEBHOOK_ROUTE });
  s.count("retry");
}
