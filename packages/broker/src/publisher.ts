import type { ChannelModel, ConfirmChannel, Options } from "amqplib";
import type { ManagedConnection } from "./connection.js";
import { DrainWait } from "./drain.js";
import { BrokerUnavailableError, PublishFailedError, UnroutableError } from "./errors.js";
import type { Log } from "./log.js";
import { type Outstanding, OutstandingPublishes } from "./outstanding.js";
import { ChannelReopener } from "./reopen.js";

export interface PublishOptions extends Options.Publish {
  /** Required: it identifies the message in broker returns, logs and the dispatcher's dedup. */
  readonly messageId: string;
}

export interface ConfirmPublisherOptions {
  readonly log: Log;
  /**
   * A confirm that does not come within this long of the publish call fails it (the connection may
   * be dead): a wait for the socket to drain, before the message is sent, counts in it.
   */
  readonly confirmTimeoutMs?: number;
}

/** How many confirm timeouts a publish that met a resource alarm waits for its confirm (see publish). */
const BLOCKED_WAITS = 6;

const blockedError = () => new BrokerUnavailableError("RabbitMQ has blocked publishing (a resource alarm)");

/** The first reopen of a closed publisher channel (ChannelReopener backs off from there). */
const REOPEN_FIRST_DELAY_MS = 200;

/** How many confirm timeouts a publish whose confirm timed out still holds back its copies (see publish). */
const UNCONFIRMED_KEPT_WAITS = 6;

/** How many of those a confirm is remembered for the copy that was refused meanwhile. */
const CONFIRMED_KEPT_WAITS = 60;

/** A drain awaited this long means RabbitMQ is not reading the connection: the publisher is not ready. */
const DRAIN_STUCK_MS = 1_000;

/** The open confirm channel and what belongs to it alone: dropped with it when it closes. */
interface Open {
  readonly channel: ConfirmChannel;
  /** Messages the broker returned as unroutable, by {@link returnKey}; their confirm follows the return. */
  readonly returned: Set<string>;
  /** The confirm callbacks given to amqplib that it has not called yet (see #open). */
  readonly unconfirmed: Set<(error: unknown) => void>;
}

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
  #current: Open | undefined;
  readonly #drain = new DrainWait();
  /** The publishes awaiting their confirm on the current channel (see publish). */
  readonly #outstanding: OutstandingPublishes;
  readonly #reopener = new ChannelReopener((error, retryInMs) =>
    this.#log.warn({ err: error, retryInMs }, "cannot reopen the publisher channel yet"),
  );

  private constructor(connection: ManagedConnection, options: ConfirmPublisherOptions) {
    this.#connection = connection;
    this.#log = options.log;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 10_000;
    this.#outstanding = new OutstandingPublishes(
      options.log,
      this.#confirmTimeoutMs * UNCONFIRMED_KEPT_WAITS,
      this.#confirmTimeoutMs * CONFIRMED_KEPT_WAITS,
    );
  }

  /** Creates a publisher whose confirm channel is reopened on every (re)connection. */
  static async attach(connection: ManagedConnection, options: ConfirmPublisherOptions): Promise<ConfirmPublisher> {
    const publisher = new ConfirmPublisher(connection, options);
    connection.on("disconnected", () => {
      publisher.#current = undefined;
      publisher.#outstanding.clear();
    });
    // RabbitMQ reads nothing from a blocked connection, so a publish waiting for the socket to drain
    // would wait out its whole timeout (and the relay's claim with it): it is refused at once instead.
    connection.on("blocked", () => publisher.#drain.end());
    await connection.addSetup((c) => publisher.#open(c));
    return publisher;
  }

  /**
   * True when a publish can be attempted right now: a channel, on a connection RabbitMQ has not
   * blocked, whose socket has not waited to drain for over DRAIN_STUCK_MS (RabbitMQ is then not
   * reading it, and a publish would wait until it times out). A burst's brief waits do not count:
   * /health would flap, and the after-commit path would hand its rows to the relay for nothing.
   */
  get isReady(): boolean {
    return this.#current !== undefined && !this.#connection.blocked && this.#drain.pendingForMs() < DRAIN_STUCK_MS;
  }

  /** True while a publish would wait for the socket to drain. */
  get draining(): boolean {
    return this.#drain.pending;
  }

  async #open(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    const open: Open = { channel, returned: new Set(), unconfirmed: new Set() };
    channel.on("error", (error: Error) => this.#log.warn({ err: error }, "publisher channel error"));
    channel.on(
      "return",
      (message: { fields: { exchange: string; routingKey: string }; properties: { messageId?: string } }) => {
        const { exchange, routingKey } = message.fields;
        const id = message.properties.messageId;
        if (id) open.returned.add(returnKey(id, exchange, routingKey));
      },
    );
    channel.on("close", () => {
      // amqplib fails the unconfirmed publishes of a closed channel only up to the first one
      // confirmed out of order (its loop stops at that slot): the rest would wait out their timeout.
      for (const callback of open.unconfirmed) callback(new Error("channel closed"));
      if (this.#current !== open) return;
      this.#current = undefined;
      // Its unconfirmed messages will never be confirmed now: they may be published again.
      this.#outstanding.clear();
      // A channel-level error closes only the channel: reopen it while the connection lives.
      this.#reopener.schedule(
        REOPEN_FIRST_DELAY_MS,
        () => this.#open(connection),
        () => this.#connection.owns(connection) && this.#current === undefined,
      );
    });
    this.#current = open;
  }

  /**
   * Publishes one persistent message and resolves once the broker has confirmed it.
   *
   * The same message (id, destination, headers) is not sent twice at once: a confirm that is
   * slow, or times out on a channel that stays open, does not mean RabbitMQ dropped the message (a
   * quorum queue without its majority, or a blocked connection, holds it and confirms it later).
   * So while one publish of it awaits its confirm on the open channel, another is refused unsent,
   * and once RabbitMQ confirms the first, the next publish of it resolves unsent: the outbox relay
   * then deletes its row (docs/operations.md, "Outages"). When the channel closes, or
   * UNCONFIRMED_KEPT_WAITS timeouts after a confirm timed out, the message may be sent again.
   */
  async publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions): Promise<void> {
    const deadline = performance.now() + this.#confirmTimeoutMs;
    // Refused, not buffered: a publish would wait out its confirm timeout and be made again. (Before
    // waiting for a drain, which a blocked connection never gives: RabbitMQ reads nothing from it.)
    if (this.#connection.blocked) throw blockedError();
    if (this.#drain.pending) await this.#drain.wait(deadline, () => this.#unsentError());
    const open = this.#current;
    if (!open) throw new BrokerUnavailableError("not connected to RabbitMQ");
    // Asked again: the block may have come while this publish waited for the drain.
    if (this.#connection.blocked) throw blockedError();
    // After the last wait, and with no await until #send tracks it: two publishes of one message
    // that both waited for the drain cannot both pass.
    const { messageId, headers } = options;
    const message: Outstanding = { exchange, routingKey, messageId, headers, contested: false };
    if (this.#outstanding.takeConfirmed(message)) return;
    if (this.#outstanding.contest(message)) {
      throw new PublishFailedError("an earlier publish of this message is still waiting for RabbitMQ's confirm");
    }
    return new Promise<void>((resolve, reject) => {
      this.#send(open, message, content, options, deadline, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** A publish that waited for the drain until its deadline: unsent, so nothing holds back its copies. */
  #unsentError(): PublishFailedError {
    return new PublishFailedError(
      `no confirm from RabbitMQ within ${this.#confirmTimeoutMs} ms: not even sent, RabbitMQ is not reading from the connection`,
    );
  }

  #send(
    open: Open,
    message: Outstanding,
    content: Buffer,
    options: PublishOptions,
    deadline: number,
    done: (error?: Error) => void,
  ): void {
    const { channel } = open;
    const { exchange, routingKey } = message;
    this.#outstanding.track(message);
    let timedOut = false;
    // A publish made just as RabbitMQ blocked the connection (it says so only in answer to a
    // publish) waits in the socket until the alarm clears, and is confirmed then: its timeout
    // waits too — for up to BLOCKED_WAITS timeouts, since the caller may hold a transaction open
    // meanwhile (the relay's claim); past that it counts as unconfirmed, like any other.
    let waits = 0;
    const arm = (ms: number): NodeJS.Timeout =>
      setTimeout(() => {
        if (this.#connection.blocked && ++waits < BLOCKED_WAITS) {
          timer = arm(this.#confirmTimeoutMs);
          return;
        }
        timedOut = true;
        if (this.#current === open) this.#outstanding.timedOut(message);
        else this.#outstanding.untrack(message);
        done(new PublishFailedError(`no confirm from RabbitMQ within ${this.#confirmTimeoutMs} ms`));
      }, ms);
    let timer = arm(Math.max(0, deadline - performance.now()));
    const confirmed = (error: unknown) => {
      if (!open.unconfirmed.delete(confirmed)) return; // settled already, on the channel's close
      const returned = open.returned.delete(returnKey(options.messageId, exchange, routingKey));
      this.#outstanding.settle(message, !error && !returned);
      if (timedOut) return;
      clearTimeout(timer);
      if (error) done(new PublishFailedError(`RabbitMQ did not take the message: ${String(error)}`));
      else if (returned) done(new UnroutableError(`RabbitMQ could not route the message to ${exchange || routingKey}`));
      else done();
    };
    open.unconfirmed.add(confirmed);
    try {
      const properties = { persistent: true, mandatory: true, contentType: "application/json", ...options };
      // false means "buffered, wait for drain", not "failed": the confirm callback still comes.
      if (!channel.publish(exchange, routingKey, content, properties, confirmed)) this.#drain.begin(channel);
    } catch (error) {
      open.unconfirmed.delete(confirmed);
      clearTimeout(timer);
      this.#outstanding.untrack(message);
      done(new BrokerUnavailableError(`cannot publish: ${(error as Error).message}`));
    }
  }
}

/**
 * A returned message: its id and where it was sent (a return carries both). Two publishes in flight
 * may share an id — a retry's copy and a dead letter of one event — but not a destination.
 */
function returnKey(messageId: string, exchange: string, routingKey: string): string {
  return `${messageId}\u0000${exchange}\u0000${routingKey}`;
}
