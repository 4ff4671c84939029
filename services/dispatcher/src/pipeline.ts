import type { Channel, Logger } from "@otp/contracts";
import type { MessageHandler } from "./consume/consumer.js";
import { AbandonedError, holdUntilDone } from "./consume/hold.js";
import { type HandlerDeps, handleEvent } from "./decide/handle-event.js";
import { workMessage } from "./message/work-message.js";
import { type SettleDeps, settle } from "./settle/settle.js";

/** What every channel's pipeline shares: the decision's and the settling's dependencies. */
export interface PipelineDeps extends Omit<HandlerDeps, "lookup" | "observeAttempt">, Omit<SettleDeps, "log"> {
  readonly log: Logger;
}

/**
 * The consumer's handler for one OTP channel's work queue, the path of every message: read it once
 * (a WorkMessage), decide what happens to it (handleEvent: an Outcome), carry that out up to the
 * point where it may be acked (settle: status written, any copy confirmed), then ack it. A message
 * given up on purpose (AbandonedError, and only that) is abandoned; any other error is a bug and
 * is left to the consumer (Settlement says what it does with both).
 */
export function pipelineFor(deps: PipelineDeps, channel: Channel): MessageHandler {
  const { metrics, store } = deps;
  const log = deps.log.child({ channel });
  // Built once per channel, not per message (the hot path): only `lookup` depends on the message,
  // through the signal that abandons it.
  const decideDeps: Omit<HandlerDeps, "lookup"> = {
    keys: deps.keys,
    transport: deps.transport,
    policy: deps.policy,
    now: deps.now,
    deliveryLimit: deps.deliveryLimit,
    observeAttempt: (ch, seconds) => metrics.attemptDuration.observe({ channel: ch }, seconds),
  };
  const settleDeps: SettleDeps = { ...deps, log };

  return async (consumed, { abandon, forceStop }) => {
    const message = workMessage(channel, consumed);
    metrics.inFlight.inc({ channel });
    try {
      const lookup = (otpId: string) =>
        holdUntilDone("read the delivery status", () => store.lookup(otpId), abandon, log);
      const outcome = await handleEvent({ ...decideDeps, lookup }, message, forceStop);
      await settle(settleDeps, outcome, message, abandon);
      return "ack";
    } catch (error) {
      if (!(error instanceof AbandonedError)) throw error;
      log.debug({ id: message.messageId, reason: error.message }, "abandoned; the broker redelivers it");
      return "abandon";
    } finally {
      metrics.inFlight.dec({ channel });
    }
  };
}
