import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { ChannelReopener, type Log, type ManagedConnection } from "@otp/broker";
import type { Channel as AmqpChannel, ChannelModel, ConsumeMessage } from "amqplib";
import { settledWithin } from "./hold.js";

/**
 * What the consumer does with a message once its handler is done with it. The handler returns one
 * of these, and every case the consumer knows is here (as rabbitmq-client's handlers return a
 * ConsumerStatus: ACK, REQUEUE or DROP):
 *
 * - `"ack"`: done. Whatever the message needed is durable (for a delivery: the status row written,
 *   any retry or dead-letter copy confirmed by the broker). The consumer acks it on the AMQP channel
 *   it came from; if that channel has closed meanwhile, it cannot, and the broker hands the message
 *   out again (a duplicate, which the handler must expect anyway).
 * - `"abandon"`: given up on purpose, because shutdown stopped waiting for it or its AMQP channel is
 *   gone (`MessageContext.abandon` aborted). The consumer does nothing: the message stays unacked
 *   and the broker hands it out again once its channel closes. No nack: the channel it would go on
 *   is gone or about to close, and that closing gives the message back by itself.
 *
 * Dropping a message is not among them: a handler dead-letters a message it cannot use by
 * publishing a confirmed copy and then returning `"ack"`.
 *
 * A handler that throws (or rejects) has a bug: a throw is never a way to settle a message. The
 * consumer logs the error and, unless the message's channel is closing anyway, gives the message
 * back (reject with requeue) after a pause of BUG_PAUSE_MS so that a bug does not spin. Each return
 * counts towards the work queue's delivery limit, so a message that keeps failing this way ends up
 * dead-lettered (as `poison`, or by RabbitMQ itself at the limit: docs/delivery.md, dead-letter
 * reasons). A reject, not a nack: from RabbitMQ 4.3 a nack with requeue is a return "without
 * failure" that leaves `x-delivery-count` unchanged, and the message would come back for ever.
 */
export type Settlement = "ack" | "abandon";

/** How long a message whose handler threw waits before it is given back to its queue. */
const BUG_PAUSE_MS = 1_000;

/** The longest stop() waits for RabbitMQ to answer a cancel or a close (docs/operations.md, "Shutdown"). */
const BROKER_STEP_MS = 500;

export interface MessageContext {
  /** Aborts when this message can no longer be acked (its channel closed) or on forced shutdown. */
  readonly abandon: AbortSignal;
  /** Aborts only when shutdown stops waiting for in-flight work. */
  readonly forceStop: AbortSignal;
}

/** Handles one message and says how to settle it; see Settlement for each case and for a throw. */
export type MessageHandler = (message: ConsumeMessage, context: MessageContext) => Promise<Settlement>;

export interface QueueConsumerOptions {
  readonly queue: string;
  readonly prefetch: number;
  readonly log: Log;
  readonly handler: MessageHandler;
  /** Delay before reopening a channel the broker closed while the connection lived. */
  readonly reopenDelayMs?: number;
  /**
   * Declares the queue (idempotently) before consuming again after the broker cancelled the
   * consumer (e.g. the queue was deleted) or closed its channel. Not run on a (re)connection: the
   * connection's setup hook has declared the topology just before.
   */
  readonly declare?: (channel: AmqpChannel) => Promise<void>;
}

interface ChannelState {
  readonly connection: ChannelModel;
  readonly channel: AmqpChannel;
  readonly closed: AbortController;
  /** closed or forced shutdown: one signal per channel, shared by its messages. */
  readonly abandon: AbortSignal;
  tag: string | undefined;
}

/**
 * Consumes one queue with manual acks on a channel of its own, at most `prefetch` messages in
 * flight. On every (re)connection it opens a new channel and consumes again; a channel closed by
 * the broker alone is reopened; a consumer cancelled by the broker (callback with `null`: queue
 * deleted, leader moved) consumes again. A message is only acked on the channel it came from:
 * after a reconnection its delivery tag means nothing, and the broker redelivers it anyway.
 */
/**
 * The stop and abandon signals' listeners: one per message in flight (up to the prefetch), so
 * Node's warning of a leak past 10 would be a false alarm that sends an operator looking for one.
 */
const listenersFor = (prefetch: number): number => Math.max(10, prefetch * 4);

export class QueueConsumer {
  readonly #connection: ManagedConnection;
  readonly #options: QueueConsumerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #force = new AbortController();
  #current: ChannelState | undefined;
  #stopping = false;
  readonly #reopener = new ChannelReopener((error, retryInMs) =>
    this.#options.log.warn(
      { err: error, queue: this.#options.queue, retryInMs },
      "cannot reopen the consumer channel yet",
    ),
  );

  constructor(connection: ManagedConnection, options: QueueConsumerOptions) {
    this.#connection = connection;
    this.#options = options;
    setMaxListeners(listenersFor(options.prefetch), this.#force.signal);
  }

  /** Registers the consumer with the connection; it starts consuming on the next (or current) connection. */
  async attach(): Promise<void> {
    // The connection's earlier setup hook has declared the topology: no declaration here.
    await this.#connection.addSetup((c) => this.#open(c, false));
  }

  get isConsuming(): boolean {
    return this.#current?.tag !== undefined;
  }

  async #open(connection: ChannelModel, declare: boolean): Promise<void> {
    if (this.#stopping) return;
    const { queue, prefetch, log } = this.#options;
    const channel = await connection.createChannel();
    const closed = new AbortController();
    const abandon = AbortSignal.any([closed.signal, this.#force.signal]);
    setMaxListeners(listenersFor(prefetch), abandon);
    const state: ChannelState = { connection, channel, closed, abandon, tag: undefined };
    channel.on("error", (error: Error) => log.warn({ err: error, queue }, "consumer channel error"));
    channel.on("close", () => this.#onClose(state));
    await channel.prefetch(prefetch);
    this.#current = state;
    if (declare) await this.#options.declare?.(channel);
    await this.#consume(state);
  }

  async #consume(state: ChannelState): Promise<void> {
    const { consumerTag } = await state.channel.consume(
      this.#options.queue,
      (message) => {
        if (message === null) this.#onCancelled(state);
        // Not after stop() began (a reopen was on its way): unacked, such a message is handed out again.
        else if (!this.#stopping) this.#track(this.#run(state, message));
      },
      { noAck: false },
    );
    state.tag = consumerTag;
    this.#options.log.info({ queue: this.#options.queue, prefetch: this.#options.prefetch }, "consuming");
  }

  #onCancelled(state: ChannelState): void {
    state.tag = undefined;
    if (this.#stopping || state.closed.signal.aborted) return;
    this.#options.log.warn({ queue: this.#options.queue }, "RabbitMQ cancelled the consumer; consuming again");
    setTimeout(() => {
      if (this.#stopping || state.closed.signal.aborted || this.#current !== state) return;
      // Declares the queue again in case it was deleted; a failure closes the channel, which reopens later.
      (async () => {
        await this.#options.declare?.(state.channel);
        await this.#consume(state);
      })().catch((error) => this.#options.log.warn({ err: error }, "cannot consume again yet"));
    }, 500).unref();
  }

  #onClose(state: ChannelState): void {
    state.closed.abort(new Error("the consumer channel closed"));
    state.tag = undefined;
    if (this.#current !== state) return;
    this.#current = undefined;
    if (this.#stopping) return;
    // The channel alone closed (e.g. a channel-level error) while the connection lives: reopen it,
    // declaring the queue, since a consume on a deleted queue (404) is one way a channel closes.
    // When the connection itself died, the connection's setup hook opens a new one on reconnect.
    const { connection } = state;
    this.#reopener.schedule(
      this.#options.reopenDelayMs ?? 1_000,
      () => this.#open(connection, true),
      () => !this.#stopping && !this.#current && this.#connection.owns(connection),
    );
  }

  async #run(state: ChannelState, message: ConsumeMessage): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.#options.handler(message, { abandon: state.abandon, forceStop: this.#force.signal });
    } catch (error) {
      await this.#giveBack(state, message, error);
      return;
    }
    switch (settlement) {
      case "ack":
        return this.#ack(state, message);
      case "abandon":
        return; // unacked: the broker hands it out again once its channel closes
    }
  }

  #ack(state: ChannelState, message: ConsumeMessage): void {
    const { log, queue } = this.#options;
    if (state.closed.signal.aborted) {
      log.debug({ queue }, "not acking on a closed channel; the broker redelivers the message");
      return;
    }
    try {
      state.channel.ack(message);
    } catch (error) {
      log.warn({ err: error }, "ack failed; the broker redelivers the message");
    }
  }

  /** The handler threw: a bug, not an outage (see Settlement). */
  async #giveBack(state: ChannelState, message: ConsumeMessage, error: unknown): Promise<void> {
    const { log, queue } = this.#options;
    log.error({ err: error, queue }, "unexpected error handling a message");
    // Its channel is closing (shutdown, or closed already): the broker gives the message back then.
    if (state.abandon.aborted) return;
    await sleep(BUG_PAUSE_MS);
    if (state.closed.signal.aborted) return;
    try {
      state.channel.reject(message, true);
    } catch {}
  }

  #track(task: Promise<void>): void {
    this.#inFlight.add(task);
    task.finally(() => this.#inFlight.delete(task)).catch(() => {});
  }

  /**
   * Stops taking messages, waits up to `drainMs` for those in flight, then aborts the rest (they
   * stay unacked and are redelivered elsewhere) and closes the channel.
   */
  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    const started = Date.now();
    const state = this.#current;
    if (state?.tag && !state.closed.signal.aborted) {
      await settledWithin(state.channel.cancel(state.tag), BROKER_STEP_MS);
      state.tag = undefined;
    }
    // The cancel's wait comes out of the drain's: one budget for both.
    const drainLeft = Math.max(0, drainMs - (Date.now() - started));
    const drained = Promise.allSettled([...this.#inFlight]);
    const timedOut = await Promise.race([drained.then(() => false), sleep(drainLeft).then(() => true)]);
    if (timedOut) {
      const { queue, log } = this.#options;
      log.warn({ queue, inFlight: this.#inFlight.size }, "drain timed out; abandoning");
      this.#force.abort(new Error("shutdown"));
      await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(500)]);
    }
    if (state && !state.closed.signal.aborted) await settledWithin(state.channel.close(), BROKER_STEP_MS);
  }
}
