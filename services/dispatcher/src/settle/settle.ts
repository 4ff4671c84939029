import { randomUUID } from "node:crypto";
import { type ConfirmPublisher, type Log, type Topology, UnroutableError } from "@otp/broker";
import type { DeliveryStatus } from "@otp/contracts";
import { AbandonedError, holdUntilDone } from "../consume/hold.js";
import type { Canceled, Dead, Delivered, Duplicate, Expired, Outcome, Retry } from "../decide/outcome.js";
import { carriedHeaders, H, type Headers } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import type { Metrics } from "../ops/metrics.js";
import type { RecordInput, StatusStore } from "../status/status-store.js";
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
 * are retried while the message is held (consume/hold.ts); once `signal` aborts, AbandonedError is
 * thrown and the message is left unacked for redelivery.
 */
export function settle(deps: SettleDeps, outcome: Outcome, message: WorkMessage, signal: AbortSignal): Promise<void> {
  const s = new Settling(deps, message, signal);
  switch (outcome.kind) {
    case "delivered":
      return delivered(s, outcome);
    case "duplicate":
      return duplicate(s, outcome);
    case "expired":
      return expired(s, outcome);
    case "canceled":
      return canceled(s, outcome);
    case "retry":
      return retry(s, outcome);
    case "dead":
      return deadLetter(s, outcome);
  }
}

async function delivered(s: Settling, { event, attempt, note }: Delivered): Promise<void> {
  const dummy = note === "dummy";
  await s.record(event.otp_id, { status: "delivered", attempted: true, error: note });
  s.count(dummy ? "dummy" : "delivered");
  s.log.info(
    { event: event.id, otp: event.otp_id, attempt, dummy },
    dummy ? "delivery recorded (DUMMY: nothing sent)" : "delivered",
  );
}

async function duplicate(s: Settling, { event, status }: Duplicate): Promise<void> {
  s.count("duplicate");
  s.log.info({ event: event.id, otp: event.otp_id, status }, "skipped: not pending");
}

async function expired(s: Settling, { event, attempted, error }: Expired): Promise<void> {
  await s.record(event.otp_id, { status: "expired", attempted, error });
  s.count("expired");
  s.log.info({ event: event.id, otp: event.otp_id, error }, "expired: dropped, not sent");
}

async function canceled(s: Settling, { event }: Canceled): Promise<void> {
  await s.record(event.otp_id, { status: "canceled", attempted: false, error: null });
  s.count("canceled");
  s.log.info({ event: event.id, otp: event.otp_id }, "canceled: dropped, not sent");
}

/** The attempt is recorded, then a copy for the next attempt goes to the delay queue of `delayMs`. */
async function retry(s: Settling, { event, attempt, delayMs, error }: Retry): Promise<void> {
  const after = await s.record(event.otp_id, { status: "pending", attempted: true, error });
  if (after !== "pending") {
    // A duplicate of this event got through meanwhile: no retry needed.
    s.count("duplicate");
    return;
  }
  await s.toDelayQueue("publish the retry", delayMs, event.id, { [H.attempt]: attempt + 1, [H.lastError]: error });
  s.deps.metrics.retries.inc({ channel: s.message.queueChannel });
  s.count("retry");
  s.log.info(
    { event: event.id, otp: event.otp_id, attempt, retryInMs: delayMs, error },
    "attempt failed; retry scheduled",
  );
}

/**
 * The copy goes to the dead-letter queue first, then the OTP (if the message named one) is `failed`.
 * The log line names the event and its OTP, or `ids` when given: a webhook's own (its
 * `webhook-id`, subscription, OTP and type; docs/webhooks.md, "Delivery"), which it has no event for.
 */
export async function deadLetter(s: Settling, outcome: Dead, ids?: Record<string, unknown>): Promise<void> {
  const { event, reason, error } = outcome;
  const { deps, message } = s;
  const channel = message.queueChannel;
  const messageId = message.messageId ?? event?.id ?? randomUUID();
  // Built once: each retry of the publish is then the same message, which the publisher does not
  // send again while an earlier try awaits its confirm (docs/operations.md, "Outages").
  const headers = s.copyHeaders({
    [H.deadReason]: reason,
    [H.lastError]: error,
    [H.attempts]: outcome.attempts,
    [H.channel]: channel,
    [H.deadAt]: new Date(deps.now()).toISOString(),
    ...(event ? { [H.otpId]: event.otp_id } : {}),
  });
  await s.copy("publish to the dead-letter queue", async () => {
    try {
      await deps.publisher.publish("", deps.topology.deadQueue, message.content, { messageId, headers });
    } catch (publishError) {
      // Unroutable when someone deleted the queue: declared again for the next try.
      if (publishError instanceof UnroutableError) await deps.delayQueues.restoreDeadQueue().catch(() => {});
      throw publishError;
    }
  });
  if (event) {
    await s.record(event.otp_id, { status: "failed", attempted: outcome.attempted, error: `${reason}: ${error}` });
  }
  deps.metrics.deadLetters.inc({ channel, reason });
  s.count("failed");
  s.log.warn(
    { ...(ids ?? { event: event?.id ?? message.messageId, otp: event?.otp_id }), reason, error },
    "dead-lettered",
  );
}

/** One message being settled: what every outcome's function does with it (the webhooks' too). */
export class Settling {
  constructor(
    readonly deps: SettleDeps,
    readonly message: WorkMessage,
    readonly signal: AbortSignal,
  ) {}

  get log(): Log {
    return this.deps.log;
  }

  /** Writes the delivery status, held through a database outage; resolves with the row's status after. */
  record(otpId: string, input: RecordInput): Promise<DeliveryStatus | undefined> {
    return holdUntilDone(
      "record the delivery status",
      () => this.deps.store.record(otpId, input),
      this.signal,
      this.log,
    );
  }

  /**
   * Publishes a copy of the message (a retry, a dead letter), held through a broker outage until
   * confirmed. Not once `signal` has aborted: the message is coming back anyway (its channel
   * closed), and a copy would double it.
   */
  async copy(what: string, publish: () => Promise<void>): Promise<void> {
    if (this.signal.aborted) throw new AbandonedError("the message will be redelivered; no copy made");
    await holdUntilDone(what, publish, this.signal, this.log, { tryAfterAbort: false });
  }

  /**
   * A copy of the message, with `own` headers over its carried ones, to its channel's delay queue
   * of `delayMs` (a retry, or a webhook put back untried), confirmed before it returns.
   */
  async toDelayQueue(what: string, delayMs: number, messageId: string, own: Headers): Promise<void> {
    const { delayQueues, publisher } = this.deps;
    const channel = this.message.queueChannel;
    const headers = this.copyHeaders(own);
    await this.copy(what, async () => {
      const queue = await delayQueues.ensure(channel, delayMs);
      try {
        await publisher.publish("", queue, this.message.content, { messageId, headers });
      } catch (publishError) {
        delayQueues.forget(channel, delayMs); // e.g. unroutable: someone deleted the queue
        throw publishError;
      }
    });
  }

  /** A copy's headers: the original's own (carriedHeaders), then this hop's. */
  copyHeaders(own: Headers): Headers {
    return { ...carriedHeaders(this.message.headers), ...own };
  }

  /** Counts the message in `deliveries_total` under `outcome`. */
  count(outcome: string): void {
    this.deps.metrics.deliveries.inc({ channel: this.message.queueChannel, outcome });
  }
}
