import type { Signer } from "@otp/contracts";
import { AbandonedError } from "../consume/hold.js";
import type { DeadReason } from "../decide/outcome.js";
import type { RetryPolicy } from "../decide/retry-policy.js";
import { attemptOf, deferralsOf, deliveryCountOf, type Headers } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import type { AttemptResult } from "../transports/index.js";
import type { WebhookOutcome } from "./outcome.js";
import { type ParsedWebhook, parseWebhookMessage } from "./parse-message.js";
import type { WebhookSender } from "./sender.js";
import type { SubscriptionSlots } from "./slots.js";
import type { Subscription } from "./subscriptions.js";

/**
 * Set by `dlq replay` on a webhook it puts back (epoch ms): its retry window starts again then,
 * rather than at its event (carried across retries, as every header not named `x-otp-*` is).
 */
export const REPLAYED_AT_HEADER = "x-webhook-replayed-at";

/**
 * On a webhook's retries (carried, like REPLAYED_AT_HEADER): when its first attempt was made. Its
 * retry window runs from then when that is later than its event, so that events sent late (after
 * an outage of the relay or the dispatchers) get their whole window, `Retry-After` included.
 */
export const FIRST_TRIED_HEADER = "x-webhook-first-tried-at";

/**
 * The wait of a webhook put back untried doubles with each deferral in a row up to this step
 * (nominally 1 s · 2^5 = 32 s with the production tiers): a webhook waiting behind a slow receiver
 * then costs the broker about two writes a minute rather than sixty, and still comes back for a
 * freed slot about every half minute (docs/webhooks.md, "Its own queue").
 */
export const MAX_DEFERRAL_STEP = 6;

export interface WebhookHandlerDeps {
  /** The subscription by id (held through a database outage by the caller); undefined when deleted. */
  readonly subscription: (id: string) => Promise<Subscription | undefined>;
  readonly sender: WebhookSender;
  /** The delay tiers and jitter of every retry; no attempt limit of its own (the window is the limit). */
  readonly policy: RetryPolicy;
  /** OTP_WEBHOOK_MAX_AGE: how long after its event (or its replay) a webhook is retried. */
  readonly maxAgeMs: number;
  readonly now: () => number;
  readonly deliveryLimit: number;
  readonly observeAttempt: (seconds: number) => void;
  /** Each subscription's attempts in flight in this dispatcher, capped. */
  readonly slots: SubscriptionSlots;
}

/**
 * Decides what happens to one webhook message (docs/webhooks.md, "Delivery"): check it, drop it if
 * its subscription is gone, sign its payload with the subscription's secret (the same
 * `webhook-id` on every attempt, a fresh timestamp) and POST it once; then deliver, retry through
 * the delay queues while its window lasts, or dead-letter it. When its subscription already has
 * all the attempts in flight it may have here, it is deferred instead, untried, for longer each
 * time in a row. Throws AbandonedError when shutdown cuts the attempt short.
 */
export async function handleWebhook(
  deps: WebhookHandlerDeps,
  work: WorkMessage,
  signal: AbortSignal,
): Promise<WebhookOutcome> {
  const parsed = parseWebhookMessage(work);
  if ("dead" in parsed) return parsed.dead;
  const { message } = parsed;
  const attempt = attemptOf(work.headers);
  const dead = (reason: DeadReason, error: string, attempted: boolean): WebhookOutcome => ({
    kind: "dead",
    reason,
    error,
    attempted,
    attempts: attempted ? attempt : attempt - 1,
    message,
  });

  const deliveries = deliveryCountOf(work.headers);
  if (deliveries >= deps.deliveryLimit) {
    return dead("poison", `handed out ${deliveries} times before without an outcome; not tried again`, false);
  }
  const subscription = await deps.subscription(message.subscription_id);
  if (!subscription) return { kind: "dropped", message };
  const { url, signer } = subscription;
  if (!signer) return dead("unsealable", "the subscription's secret does not open with this service's key", false);

  if (!deps.slots.tryTake(message.subscription_id)) {
    const deferrals = deferralsOf(work.headers) + 1;
    // The retries' ladder and jitter: webhooks put back together come back spread out.
    const delayMs = deps.policy.jitteredTier(Math.min(deferrals, MAX_DEFERRAL_STEP));
    return { kind: "deferred", message, attempt, deferrals, delayMs };
  }
  const triedAt = deps.now();
  let result: AttemptResult;
  try {
    result = await attemptOnce(deps, { url, signer }, parsed, signal);
  } finally {
    deps.slots.give(message.subscription_id);
  }
  if (result.ok) return { kind: "delivered", message, attempt };
  if (!result.transient) return dead("rejected", result.error, true);
  const firstTriedAt = firstTried(work.headers, attempt, triedAt);
  const windowEnd = windowStart(parsed, work.headers, firstTriedAt) + deps.maxAgeMs;
  const decision = deps.policy.decide(attempt, deps.now(), windowEnd, result.retryAfterMs);
  if (decision.kind === "retry")
    return { kind: "retry", message, attempt, delayMs: decision.delayMs, error: result.error, firstTriedAt };
  return dead("exhausted", `${result.error} (retried for OTP_WEBHOOK_MAX_AGE)`, true);
}

/** When the first attempt was made: this one's time on attempt 1; unknown on a retry without the header. */
function firstTried(headers: Headers, attempt: number, now: number): number | undefined {
  const carried = Number(headers[FIRST_TRIED_HEADER]);
  if (Number.isFinite(carried) && carried > 0) return carried;
  // A retry made by a version before the header: its window runs from its event, as it did then.
  return attempt === 1 ? now : undefined;
}

/** When the retry window began: the latest of the event's time, a replay's, and the first attempt's. */
function windowStart({ message }: ParsedWebhook, headers: Headers, firstTriedAt: number | undefined): number {
  const replayed = Number(headers[REPLAYED_AT_HEADER]);
  const times = [Date.parse(message.payload.timestamp), replayed, firstTriedAt ?? Number.NaN];
  return Math.max(...times.filter(Number.isFinite));
}

/** One signed POST, timed: the `webhook-id` is the message's, the timestamp now. */
async function attemptOnce(
  deps: WebhookHandlerDeps,
  { url, signer }: { url: string; signer: Signer },
  { message, body }: ParsedWebhook,
  signal: AbortSignal,
): Promise<AttemptResult> {
  const headers = signer.sign(body, { id: message.id, at: new Date(deps.now()) });
  const started = performance.now();
  let result: AttemptResult;
  try {
    result = await deps.sender.send({ url, body, headers: { ...headers } }, signal);
  } catch (error) {
    if (signal.aborted) throw new AbandonedError("shutdown cut the webhook attempt short", { cause: error });
    throw error;
  }
  deps.observeAttempt((performance.now() - started) / 1000);
  return result;
}
