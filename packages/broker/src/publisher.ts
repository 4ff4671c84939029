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
      // A channel-level error closes only the channel: reopen it while the connection lives.
      this.#reopener.schedule(
        REOPEN_FIRST_DELAY_MS,
        () => this.#open(connection),
        () => this.#connection.connection === connection && this.#channel === undefined,
      );
    });
    this.#channel = channel;
  }

  /** Publishes one persistent message and resolves once the broker has confirmed it. */
  async publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    // Refused, not buffered: a publish would wait out its confirm timeout and be made again. (Before
    // waiting for a drain, which a blocked connection never gives: RabbitMQ reads nothing from it.)
    if (this.#connection.blocked) throw blockedError();
    if (this.#drained) await this.#drained;
    const channel = this.#channel;
    if (!channel) throw new BrokerUnavailableError("not connected to RabbitMQ");
    // Asked again: the block may have come while this publish waited for the drain.
    if (this.#connection.blocked) throw blockedError();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      // A publish made just as RabbitMQ blocked the connection (it says so only in answer to a
      // publish) waits in the socket until the alarm clears, and is confirmed then: its timeout
      // waits too, or the caller would publish the same message again beside it — for up to
      // BLOCKED_WAITS timeouts, since the caller may hold a transaction open meanwhile (the relay's
      // claim); an alarm longer than that costs that one publish a second copy after it clears.
      let waits = 0;
      const arm = (): NodeJS.Timeout =>
        setTimeout(() => {
          if (this.#connection.blocked && ++waits < BLOCKED_WAITS) timer = arm();
          else finish(new PublishFailedError(`no confirm from RabbitMQ within ${this.#confirmTimeoutMs} ms`));
        }, this.#confirmTimeoutMs);
      let timer = arm();
      try {
        const accepted = channel.publish(
          exchange,
          routingKey,
          content,
          { persistent: true, mandatory: true, contentType: "application/json", ...options },
          (error: unknown) => {
            if (error) {
              finish(new PublishFailedError(`RabbitMQ did not take the message: ${String(error)}`));
            } else if (this.#returned.delete(options.messageId)) {
              finish(new PublishFailedError(`RabbitMQ could not route the message to ${exchange || routingKey}`));
            } else {
              finish();
            }
          },
        );
        // false means "buffered, wait for drain", not "failed": the confirm callback still comes.
        if (!accepted) this.#drained ??= this.#waitForDrain(channel);
      } catch (error) {
        finish(new BrokerUnavailableError(`cannot publish: ${(error as Error).message}`));
      }
    });
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
