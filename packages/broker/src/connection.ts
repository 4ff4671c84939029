import { EventEmitter } from "node:events";
import { amqpAddress } from "@otp/contracts";
import amqp, { type ChannelModel } from "amqplib";
import { AddressRotation } from "./addresses.js";
import type { ManagedConnectionOptions, SetupHook } from "./connection-options.js";

export type { ManagedConnectionOptions, SetupHook } from "./connection-options.js";

type Events = { connected: [ChannelModel]; disconnected: [Error | undefined]; blocked: [] };

/**
 * One AMQP connection that keeps itself up: it reconnects with capped, jittered backoff, re-runs
 * the setup hooks each time, and says so with `connected` / `disconnected` (and `blocked` for a
 * resource alarm). It resends nothing: what was not confirmed before a disconnection is the
 * outbox's (or the unacked redelivery's) job. Given a cluster's addresses it fails over to the
 * next that answers (and whose setup hooks succeed), wrapping round, so a node that died is tried
 * last; it stays where it is when the first node comes back.
 */
export class ManagedConnection extends EventEmitter<Events> {
  readonly #options: ManagedConnectionOptions;
  readonly #addresses: AddressRotation;
  readonly #hooks: SetupHook[] = [];
  #connection: ChannelModel | undefined;
  #address: string | undefined; // the live connection's, without the password
  /** The connection whose setup hooks are running: not usable yet, but close() must end it too. */
  #opening: ChannelModel | undefined;
  #closing = false;
  /** The connection RabbitMQ has blocked for a resource alarm, until it unblocks it (see {@link blocked}). */
  #blockedConnection: ChannelModel | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** Ends the loop's current wait on close(), so that close() never waits on the broker. */
  readonly #interrupts = new Set<() => void>();

  constructor(options: ManagedConnectionOptions) {
    super();
    this.#options = options;
    this.#addresses = new AddressRotation(options.url);
  }

  /** The live connection, if any. */
  get connection(): ChannelModel | undefined {
    return this.#connection;
  }

  /** Which address the live connection goes to, without the password (`amqp://otp@rabbit-2:5672`). */
  get address(): string | undefined {
    return this.#address;
  }

  get isConnected(): boolean {
    return this.#connection !== undefined;
  }

  /** `connection` is the live one or the one being set up: a channel of it may still be reopened. */
  owns(connection: ChannelModel): boolean {
    return connection === this.#connection || connection === this.#opening;
  }

  /**
   * RabbitMQ has blocked the live connection: a memory or disk alarm (docs/operations.md,
   * "Outages"). It reads nothing more from it until the alarm clears, so a publish now would wait
   * unconfirmed and be made again, and the consumers' acks would wait behind it: publishers refuse.
   */
  get blocked(): boolean {
    return this.#connection !== undefined && this.#blockedConnection === this.#connection;
  }

  /** Adds a setup hook. Added after a connection is up, it also runs on that connection now. */
  async addSetup(hook: SetupHook): Promise<void> {
    this.#hooks.push(hook);
    if (this.#connection) await hook(this.#connection);
  }

  /** Starts connecting in the background; resolves at once. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Resolves with the connection once it is up, or rejects after `timeoutMs`. */
  waitForConnection(timeoutMs: number): Promise<ChannelModel> {
    if (this.#connection) return Promise.resolve(this.#connection);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("connected", onConnected);
        reject(new Error(`no connection to RabbitMQ within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = (c: ChannelModel) => {
        clearTimeout(timer);
        resolve(c);
      };
      this.once("connected", onConnected);
    });
  }

  /**
   * Stops reconnecting and closes the connection (channels close with it). Resolves within about
   * `closeTimeoutMs` whatever the broker does: an unreachable or hung broker, a reconnect loop
   * sleeping, or a connection still in its handshake or setup hooks must not hold up a shutdown.
   */
  async close(): Promise<void> {
    this.#closing = true;
    for (const interrupt of this.#interrupts) interrupt();
    this.#wake?.();
    await Promise.all([this.#connection, this.#opening].map((c) => c && this.#closeWithin(c)));
    await this.#loop;
  }

  /** A polite close (close / close-ok); if the broker does not answer in time, the socket is dropped. */
  async #closeWithin(connection: ChannelModel): Promise<void> {
    const { closeTimeoutMs = 2_000 } = this.#options;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      connection.close().then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), closeTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    // Destroying the socket with an error makes amqplib close the connection and emit 'close',
    // which ends the loop's wait on it. The stream is not in amqplib's typings.
    if (!answered) streamOf(connection)?.destroy(new Error("RabbitMQ did not answer the close"));
  }

  async #run(): Promise<void> {
    const { log, minReconnectDelayMs = 250, maxReconnectDelayMs = 5_000, stableAfterMs = 10_000 } = this.#options;
    let delay = minReconnectDelayMs;
    while (!this.#closing) {
      const url = this.#addresses.take();
      try {
        const attempt = this.#connectOnce(url);
        // A connect still pending when close() is called ends on its own (connect timeout, or the
        // closing check after the hooks); its failure is not worth a log line then.
        attempt.catch(() => {});
        const opened = await this.#unlessClosed(attempt);
        if (opened === undefined) break;
        const since = performance.now();
        this.#addresses.connected();
        const error = await this.#unlessClosed(opened.closed);
        // Only a connection that lasted counts as recovered (a flapping node: see stableAfterMs).
        if (performance.now() - since >= stableAfterMs) delay = minReconnectDelayMs;
        const address = this.#address;
        this.#connection = undefined;
        this.#address = undefined;
        this.emit("disconnected", error);
        if (!this.#closing) log.warn({ err: error, address }, "lost the connection to RabbitMQ; reconnecting");
      } catch (error) {
        const roundFailed = this.#addresses.failed();
        if (!this.#closing) {
          log.warn(
            { err: error, address: amqpAddress(url), retryInMs: roundFailed ? delay : 0 },
            "cannot connect to RabbitMQ yet",
          );
        }
        // Another address is still to be tried in this round: at once.
        if (!roundFailed) continue;
      }
      if (this.#closing) break;
      await this.#sleep(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, maxReconnectDelayMs);
    }
    // close() can interrupt the wait for a connect that has just succeeded (its 'connected' already
    // emitted): that connection is being closed by close() too, and ends here like any other.
    if (this.#connection) {
      this.#connection = undefined;
      this.#address = undefined;
      this.emit("disconnected", undefined);
    }
  }

  /**
   * `promise`, or undefined as soon as close() is called. (Not a race with one long-lived promise:
   * each race would leave a reaction on it for every reconnect attempt of a long outage.)
   */
  #unlessClosed<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.#closing) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const interrupt = () => resolve(undefined);
      this.#interrupts.add(interrupt);
      promise.then(
        (value) => {
          this.#interrupts.delete(interrupt);
          resolve(value);
        },
        (error: unknown) => {
          this.#interrupts.delete(interrupt);
          reject(error);
        },
      );
    });
  }

  /** Connects and runs the hooks; resolves with a promise of the connection's end (boxed: not adopted). */
  async #connectOnce(url: string): Promise<{ closed: Promise<Error | undefined> }> {
    const { name, log, heartbeatSeconds = 10, connectTimeoutMs = 10_000 } = this.#options;
    const target = new URL(url);
    if (!target.searchParams.has("heartbeat")) target.searchParams.set("heartbeat", String(heartbeatSeconds));
    const connection = await amqp.connect(target.toString(), {
      clientProperties: { connection_name: name },
      timeout: connectTimeoutMs,
    });
    const closed = new Promise<Error | undefined>((resolve) => connection.once("close", resolve));
    // 'error' is always followed by 'close', which drives the reconnection.
    connection.on("error", (error: Error) => log.warn({ err: error }, "RabbitMQ connection error"));
    connection.on("blocked", (reason: string) => {
      this.#blockedConnection = connection;
      log.warn({ reason }, "RabbitMQ blocked this connection (a resource alarm); not publishing until it clears");
      if (this.#connection === connection) this.emit("blocked");
    });
    connection.on("unblocked", () => {
      if (this.#blockedConnection === connection) this.#blockedConnection = undefined;
      log.info({}, "RabbitMQ unblocked this connection");
    });
    this.#opening = connection;
    try {
      if (this.#closing) throw new Error("closing");
      for (const hook of this.#hooks) await hook(connection);
      // close() may have come while the hooks ran: never report a connection after it.
      if (this.#closing) throw new Error("closing");
    } catch (error) {
      await this.#closeWithin(connection);
      throw error;
    } finally {
      this.#opening = undefined;
    }
    this.#connection = connection;
    this.#address = amqpAddress(url);
    log.info({ name, address: this.#address }, "connected to RabbitMQ");
    this.emit("connected", connection);
    return { closed };
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function streamOf(connection: ChannelModel): { destroy(error?: Error): void } | undefined {
  return (connection as unknown as { connection?: { stream?: { destroy(error?: Error): void } } }).connection?.stream;
}
