import { createHash } from "node:crypto";
import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import type { ManagedConnection } from "./connection.js";
import { BrokerUnavailableError, PublishFailedError } from "./errors.js";
import type { Log } from "./log.js";
import { ChannelReopener } from "./reopen.js";

export interface PublishOptions extends Options.Publish {
  /** Required: it identifies the message in broker returns, logs and the dispatcher's dedup. */
  readonly messageId: string;
}

export interface ConfirmPublisherOptions {
  readonly log: Log;
  /** A confirm that does not come within this long fails the publish (the connection may be dead). */
  readonly confirmTimeoutMs?: number;
}

/** How many confirm timeouts a publish that met a resource alarm waits for its confirm (see publish). */
const BLOCKED_WAITS = 6;

const blockedError = () => new BrokerUnavailableError("RabbitMQ has blocked publishing (a resource alarm)");

/** The first reopen of a closed publisher channel (ChannelReopener backs off from there). */
const REOPEN_FIRST_DELAY_MS = 200;

/** How many late confirms are remembered until their message is published again (see publish). */
const LATE_CONFIRMS_KEPT = 100_000;

/**
 * Publishes with publisher confirms, many messages in flight at once: each `publish` resolves when
 * the broker has confirmed that message (written to every quorum replica), and rejects on a nack, an
 * unroutable message (published `mandatory`), a closed channel, or a confirm timeout. Waiting for
 * each confirm before the next publish would cap throughput near 1,000 messages/s.
 */
export class ConfirmPublisher {
  readonly #connection: ManagedConnection;
  readonly #log: Log;
  readonly #confirmTimeoutMs: number;
  #channel: ConfirmChannel | undefined;
  #drained: Promise<void> | undefined;
  /** Message ids the broker returned as unroutable; their confirm follows the return. */
  readonly #returned = new Set<string>();
  /** Publishes that timed out on the channel still open (RabbitMQ may yet take them), by {@link messageKey}. */
  readonly #unconfirmed = new Set<string>();
  /** Publishes RabbitMQ confirmed after they had timed out (the message is in its queue), by {@link messageKey}. */
  readonly #lateConfirmed = new Set<string>();
  readonly #reopener = new ChannelReopener((error, retryInMs) =>
    this.#log.warn({ err: error, retryInMs }, "cannot reopen the publisher channel yet"),
  );

  private constructor(connection: ManagedConnection, options: ConfirmPublisherOptions) {
    this.#connection = connection;
    this.#log = options.log;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 10_000;
  }

  /** Creates a publisher whose confirm channel is reopened on every (re)connection. */
  static async attach(connection: ManagedConnection, options: ConfirmPublisherOptions): Promise<ConfirmPublisher> {
    const publisher = new ConfirmPublisher(connection, options);
    connection.on("disconnected", () => {
      publisher.#channel = undefined;
      publisher.#unconfirmed.clear();
    });
    await connection.addSetup((c) => publisher.#open(c));
    return publisher;
  }

  /** True when a publish can be attempted right now: a channel, on a connection RabbitMQ has not blocked. */
  get isReady(): boolean {
    return this.#channel !== undefined && !this.#connection.blocked;
  }

  async #open(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on("error", (error: Error) => this.#log.warn({ err: error }, "publisher channel error"));
    channel.on("return", (message: { properties: { messageId?: string } }) => {
      if (message.properties.messageId) this.#returned.add(message.properties.messageId);
    });
    channel.on("close", () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      // Its unconfirmed messages will never be confirmed now: they may be published again.
      this.#unconfirmed.clear();
      // A channel-level error closes only the channel: reopen it while the connection lives.
      this.#reopener.schedule(
        REOPEN_FIRST_DELAY_MS,
        () => this.#open(connection),
        () => this.#connection.connection === connection && this.#channel === undefined,
      );
    });
    this.#channel = channel;
  }

  /**
   * Publishes one persistent message and resolves once the broker has confirmed it.
   *
   * A confirm that times out on a channel that stays open does not mean RabbitMQ dropped the
   * message: a quorum queue that has lost its majority holds it, and confirms it once the majority
   * is back. So the caller (the outbox relay, which keeps the row) must not send a copy meanwhile:
   * a new publish of the same message (id, destination, headers, body) is refused unsent while the
   * first is unconfirmed on the open channel, and resolves unsent once RabbitMQ has confirmed the
   * first (docs/operations.md, "Outages"). When that channel closes, its unconfirmed messages may
   * be sent again.
   */
  async publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    // Keyed by the whole message, not its id alone: a retry's next copy carries its event's id too.
    if (this.#lateConfirmed.size > 0 || this.#unconfirmed.size > 0) {
      const key = messageKey(exchange, routingKey, content, options);
      if (this.#lateConfirmed.delete(key)) return;
      if (this.#unconfirmed.has(key)) {
        throw new PublishFailedError("an earlier publish of this message is still waiting for RabbitMQ's confirm");
      }
    }
    // Refused, not buffered: a publish would wait out its confirm timeout and be made again. (Before
    // waiting for a drain, which a blocked connection never gives: RabbitMQ reads nothing from it.)
    if (this.#connection.blocked) throw blockedError();
    if (this.#drained) await this.#drained;
    const channel = this.#channel;
    if (!channel) throw new BrokerUnavailableError("not connected to RabbitMQ");
    // Asked again: the block may have come while this publish waited for the drain.
    if (this.#connection.blocked) throw blockedError();
    return new Promise<void>((resolve, reject) => {
      this.#send(channel, exchange, routingKey, content, options, (error) => (error ? reject(error) : resolve()));
    });
  }

  #send(
    channel: ConfirmChannel,
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions,
    done: (error?: Error) => void,
  ): void {
    let unconfirmedKey: string | undefined;
    // A publish made just as RabbitMQ blocked the connection (it says so only in answer to a
    // publish) waits in the socket until the alarm clears, and is confirmed then: its timeout
    // waits too — for up to BLOCKED_WAITS timeouts, since the caller may hold a transaction open
    // meanwhile (the relay's claim); past that it counts as unconfirmed, like any other.
    let waits = 0;
    const arm = (): NodeJS.Timeout =>
      setTimeout(() => {
        if (this.#connection.blocked && ++waits < BLOCKED_WAITS) {
          timer = arm();
          return;
        }
        unconfirmedKey = messageKey(exchange, routingKey, content, options);
        if (this.#channel === channel) this.#unconfirmed.add(unconfirmedKey);
        done(new PublishFailedError(`no confirm from RabbitMQ within ${this.#confirmTimeoutMs} ms`));
      }, this.#confirmTimeoutMs);
    let timer = arm();
    const confirmed = (error: unknown) => {
      const returned = this.#returned.delete(options.messageId);
      if (unconfirmedKey !== undefined) return this.#confirmedLate(unconfirmedKey, !error && !returned);
      clearTimeout(timer);
      if (error) done(new PublishFailedError(`RabbitMQ did not take the message: ${String(error)}`));
      else if (returned)
        done(new PublishFailedError(`RabbitMQ could not route the message to ${exchange || routingKey}`));
      else done();
    };
    try {
      const properties = { persistent: true, mandatory: true, contentType: "application/json", ...options };
      // false means "buffered, wait for drain", not "failed": the confirm callback still comes.
      if (!channel.publish(exchange, routingKey, content, properties, confirmed))
        this.#drained ??= this.#waitForDrain(channel);
    } catch (error) {
      clearTimeout(timer);
      done(new BrokerUnavailableError(`cannot publish: ${(error as Error).message}`));
    }
  }

  /** The answer to a publish that had timed out: taken (remembered for its next publish) or not. */
  #confirmedLate(key: string, taken: boolean): void {
    if (!this.#unconfirmed.delete(key) || !taken) return;
    this.#lateConfirmed.add(key);
    if (this.#lateConfirmed.size > LATE_CONFIRMS_KEPT) {
      const oldest = this.#lateConfirmed.values().next().value;
      if (oldest !== undefined) this.#lateConfirmed.delete(oldest);
    }
  }

  #waitForDrain(channel: ConfirmChannel): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        channel.off("drain", done);
        channel.off("close", done);
        this.#drained = undefined;
        resolve();
      };
      channel.on("drain", done);
      channel.on("close", done);
    });
  }
}

/** One message: its id, where it goes, its headers and its body (a digest of them). */
function messageKey(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): string {
  return createHash("sha256")
    .update(
      `${options.messageId}\u0000${exchange}\u0000${routingKey}\u0000${JSON.stringify(options.headers ?? {})}\u0000`,
    )
    .update(content)
    .digest("base64");
}
