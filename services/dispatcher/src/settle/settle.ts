import { randomUUID } from "node:crypto";
import type { ConfirmPublisher, Log, Topology } from "@otp/broker";
import { AbandonedError, holdUntilDone } from "../consume/hold.js";
import type { Outcome } from "../decide/outcome.js";
import { carriedHeaders, H } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import type { Metrics } from "../ops/metrics.js";
import type { RecordInput, StatusStore } from "../status.js";
import type { DelayQueues } from "./delay-queues.js";

export interface SettleDeps {
  readonly store: StatusStore;
  readonly publisher: ConfirmPublisher;
  readonly topology: Topology;
  readonly delayQueues: DelayQueues;
  readonly metrics: Metrics;
  /** The channel's child logger: its lines already carry `channel`. */
  readonly log: Log;
  readonly now: () => number;
}

/**
 * Carries out an outcome up to the point where the message may be acked: the status row is
 * written, and a retry or dead-letter copy is confirmed by the broker. Database and broker errors
 * are retried while the message is held (see hold.ts); an abort of `signal` throws, and the
 * message is then left unacked for redelivery.
 */
export async function settle(
  deps: SettleDeps,
  outcome: Outcome,
  message: WorkMessage,
  signal: AbortSignal,
): Promise<void> {
  const { metrics, log } = deps;
  const channel = message.queueChannel;
  const hold = <T>(what: string, fn: () => Promise<T>) => holdUntilDone(what, fn, signal, log);
  const record = (otpId: string, input: RecordInput) =>
    hold("record the delivery status", () => deps.store.record(otpId, input));
  // A copy published for a message that is coming back anyway (its channel closed) would double it.
  const beforeCopy = () => {
    if (signal.aborted) throw new AbandonedError("the message will be redelivered; no copy made");
  };

  switch (outcome.kind) {
    case "delivered": {
      const { event } = outcome;
      await record(event.otp_id, { status: "delivered", attempted: true, error: outcome.note });
      metrics.deliveries.inc({ channel, outcome: outcome.note === "dummy" ? "dummy" : "delivered" });
      log.info(
        { event: event.id, otp: event.otp_id, attempt: outcome.attempt, dummy: outcome.note === "dummy" },
        outcome.note === "dummy" ? "delivery recorded (DUMMY: nothing sent)" : "delivered",
      );
      return;
    }
    case "duplicate": {
      metrics.deliveries.inc({ channel, outcome: "duplicate" });
      log.info({ event: outcome.event.id, otp: outcome.event.otp_id, status: outcome.status }, "skipped: not pending");
      return;
    }
    case "expired": {
      const { event } = outcome;
      await record(event.otp_id, { status: "expired", attempted: outcome.attempted, error: outcome.error });
      metrics.deliveries.inc({ channel, outcome: "expired" });
      log.info({ event: event.id, otp: event.otp_id, error: outcome.error }, "expired: dropped, not sent");
      return;
    }
    case "retry": {
      const { event } = outcome;
      const after = await record(event.otp_id, { status: "pending", attempted: true, error: outcome.error });
      if (after !== "pending") {
        // A duplicate of this event got through meanwhile: no retry needed.
        metrics.deliveries.inc({ channel, outcome: "duplicate" });
        return;
      }
      beforeCopy();
      await hold("publish the retry", async () => {
        const queue = await deps.delayQueues.ensure(channel, outcome.delayMs);
        try {
          await deps.publisher.publish("", queue, message.content, {
            messageId: event.id,
            headers: {
              ...carriedHeaders(message.headers),
              [H.attempt]: outcome.attempt + 1,
              [H.lastError]: outcome.error,
            },
          });
        } catch (error) {
          deps.delayQueues.forget(channel, outcome.delayMs);
          throw error;
        }
      });
      metrics.retries.inc({ channel });
      metrics.deliveries.inc({ channel, outcome: "retry" });
      log.info(
        {
          event: event.id,
          otp: event.otp_id,
          attempt: outcome.attempt,
          retryInMs: outcome.delayMs,
          error: outcome.error,
        },
        "attempt failed; retry scheduled",
      );
      return;
    }
    case "dead": {
      const { event } = outcome;
      beforeCopy();
      await hold("publish to the dead-letter queue", () =>
        deps.publisher.publish("", deps.topology.deadQueue, message.content, {
          messageId: message.messageId ?? event?.id ?? randomUUID(),
          headers: {
            ...carriedHeaders(message.headers),
            [H.deadReason]: outcome.reason,
            [H.lastError]: outcome.error,
            [H.attempts]: outcome.attempts,
            [H.channel]: channel,
            [H.deadAt]: new Date(deps.now()).toISOString(),
            ...(event ? { [H.otpId]: event.otp_id } : {}),
          },
        }),
      );
      if (event) {
        await record(event.otp_id, {
          status: "failed",
          attempted: outcome.attempted,
          error: `${outcome.reason}: ${outcome.error}`,
        });
      }
      metrics.deadLetters.inc({ channel, reason: outcome.reason });
      metrics.deliveries.inc({ channel, outcome: "failed" });
      log.warn(
        {
          event: event?.id ?? message.messageId,
          otp: event?.otp_id,
          reason: outcome.reason,
          error: outcome.error,
        },
        "dead-lettered",
      );
      return;
    }
  }
}
