import { type Channel, type DeliveryContent, type DeliveryEvent, type Keyring, unsealContent } from "@otp/contracts";
import { AbandonedError } from "../consume/hold.js";
import { attemptOf, deliveryCountOf } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import type { OtpDelivery } from "../status/status-store.js";
import type { AttemptResult, Transport } from "../transports/index.js";
import type { DeadReason, Outcome } from "./outcome.js";
import { parseEvent } from "./parse-event.js";
import type { RetryPolicy } from "./retry-policy.js";

export interface HandlerDeps {
  readonly keys: Keyring;
  readonly transport: Transport;
  readonly lookup: (otpId: string) => Promise<OtpDelivery | undefined>;
  readonly policy: RetryPolicy;
  readonly now: () => number;
  /** Called with each provider attempt's duration. */
  readonly observeAttempt: (channel: Channel, seconds: number) => void;
  /** The work queues' `x-delivery-limit`: past it RabbitMQ would drop the message on its own. */
  readonly deliveryLimit: number;
}

/**
 * Decides what happens to one delivery event: check it, skip it if its OTP is no longer pending
 * (duplicates are normal), drop it if the code can no longer be verified or has expired (the
 * lookup that reads the status says both, so neither costs a round trip more), else open it and
 * make one attempt, then classify the result. Throws AbandonedError when the message is given up
 * (shutdown cut the attempt short, or the lookup was held until the message's channel closed); any
 * other throw is a bug.
 */
export async function handleEvent(deps: HandlerDeps, message: WorkMessage, signal: AbortSignal): Promise<Outcome> {
  const parsed = parseEvent(message);
  if ("dead" in parsed) return parsed.dead;
  const { event } = parsed;
  const attempt = attemptOf(message.headers);
  const dead = (reason: DeadReason, error: string, attempted: boolean): Outcome => ({
    kind: "dead",
    reason,
    error,
    event,
    attempted,
    attempts: attempted ? attempt : attempt - 1,
  });

  const row = await deps.lookup(event.otp_id);
  if (!row) return dead("otp_not_found", `no otp row ${event.otp_id}`, false);
  if (row.status !== "pending") return { kind: "duplicate", event, status: row.status };
  if (row.canceled) return { kind: "canceled", event };

  const expireAtMs = Date.parse(event.expire_at);
  if (deps.now() >= expireAtMs) return { kind: "expired", event, attempted: false, error: null };

  // The last delivery the queue allows: handling it has failed every time before (a crash, a bug).
  // Dead-lettered here rather than tried once more, so that it lands in the dead-letter queue with a
  // reason and its OTP is recorded failed; at the limit RabbitMQ would dead-letter it bare and the
  // OTP would stay pending for ever.
  const deliveries = deliveryCountOf(message.headers);
  if (deliveries >= deps.deliveryLimit) {
    return dead("poison", `handed out ${deliveries} times before without an outcome; not tried again`, false);
  }

  let content: DeliveryContent;
  try {
    content = unsealContent(deps.keys, event.sealed, event.id);
  } catch {
    return dead("unsealable", "the sealed content does not open with this service's key", false);
  }

  const result = await attemptOnce(deps, event, content, signal);
  if (result.ok) return { kind: "delivered", event, attempt, note: result.note === "dummy" ? "dummy" : null };
  if (!result.transient) return dead("rejected", result.error, true);
  const decision = deps.policy.decide(attempt, deps.now(), expireAtMs, result.retryAfterMs);
  switch (decision.kind) {
    case "retry":
      return { kind: "retry", event, attempt, delayMs: decision.delayMs, error: result.error };
    case "exhausted":
      return dead("exhausted", result.error, true);
    case "expired":
      return { kind: "expired", event, attempted: true, error: result.error };
  }
}

/** One call to the provider (or the Queue), timed. */
async function attemptOnce(
  deps: HandlerDeps,
  event: DeliveryEvent,
  content: DeliveryContent,
  signal: AbortSignal,
): Promise<AttemptResult> {
  const started = performance.now();
  let result: AttemptResult;
  try {
    result = await deps.transport.deliver(
      { eventId: event.id, channel: event.channel, target: event.target, content },
      signal,
    );
  } catch (error) {
    // A transport rejects when shutdown aborts `signal`; any other rejection is a bug.
    if (signal.aborted) throw new AbandonedError("shutdown cut the delivery attempt short", { cause: error });
    throw error;
  }
  deps.observeAttempt(event.channel, (performance.now() - started) / 1000);
  return result;
}
