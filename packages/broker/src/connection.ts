import { EventEmitter } from "node:events";
import amqp, { type ChannelModel } from "amqplib";
import type { Log } from "./log.js";

export interface ManagedConnectionOptions {
  readonly url: string;
  /** Shown in the management UI's connection list. */
  readonly name: string;
  readonly log: Log;
  readonly minReconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** Short heartbeats notice a dead broker in seconds instead of the TCP timeout's minutes. */
  readonly heartbeatSeconds?: number;
}

/** Runs on every (re)connection, before it counts as connected: declare topology, open channels. */
export type SetupHook = (connection: ChannelModel) => Promise<void>;

type Events = { connected: [ChannelModel]; disconnected: [Error | undefined] };

/**
 * One AMQP connection that keeps itself up: it reconnects with capped, jittered backoff, re-runs
 * the setup hooks each time, and says so with `connected` / `disconnected`. It resends nothing
 * itself: what was not confirmed before a disconnection is the outbox's (or the unacked
 * redelivery's) job.
 */
export class ManagedConnection extends EventEmitter<Events> {
  readonly #options: ManagedConnectionOptions;
  readonly #hooks: SetupHook[] = [];
  #connection: ChannelModel | undefined;
  #closing = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ManagedConnectionOptions) {
    super();
    this.#options = options;
  }

  /** The live connection, if any. */
  get connection(): ChannelModel | undefined {
    return this.#connection;
  }

  get isConnected(): boolean {
    return this.#connection !== undefined;
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

  /** Stops reconnecting and closes the connection (channels close with it). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wake?.();
    const connection = this.#connection;
    if (connection) await connection.close().catch(() => {});
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { log, minReconnectDelayMs = 250, maxReconnectDelayMs = 5_000 } = this.#options;
    let delay = minReconnectDelayMs;
    while (!this.#closing) {
      try {
        const closed = await this.#connectOnce();
        delay = minReconnectDelayMs;
        const error = await closed;
        this.#connection = undefined;
        this.emit("disconnected", error);
        if (!this.#closing) log.warn({ err: error }, "lost the connection to RabbitMQ; reconnecting");
      } catch (error) {
        if (!this.#closing) log.warn({ err: error, retryInMs: delay }, "cannot connect to RabbitMQ yet");
      }
      if (this.#closing) break;
      await this.#sleep(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, maxReconnectDelayMs);
    }
  }

  /** Connects and runs the hooks; resolves with a promise of the connection's end. */
  async #connectOnce(): Promise<Promise<Error | undefined>> {
    const { url, name, log, heartbeatSeconds = 10 } = this.#options;
    const target = new URL(url);
    if (!target.searchParams.has("heartbeat")) target.searchParams.set("heartbeat", String(heartbeatSeconds));
    const connection = await amqp.connect(target.toString(), { clientProperties: { connection_name: name } });
    const closed = new Promise<Error | undefined>((resolve) => connection.once("close", resolve));
    // 'error' is always followed by 'close', which drives the reconnection.
    connection.on("error", (error: Error) => log.warn({ err: error }, "RabbitMQ connection error"));
    connection.on("blocked", (reason: string) => log.warn({ reason }, "RabbitMQ blocked this connection"));
    connection.on("unblocked", () => log.info({}, "RabbitMQ unblocked this connection"));
    try {
      if (this.#closing) throw new Error("closing");
      for (const hook of this.#hooks) await hook(connection);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    this.#connection = connection;
    log.info({ name }, "connected to RabbitMQ");
    this.emit("connected", connection);
    return closed;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
