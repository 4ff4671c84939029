import {
  assertDeadQueue,
  assertDelayQueue,
  BrokerUnavailableError,
  type ManagedConnection,
  type Topology,
} from "@otp/broker";
import type { DispatchRoute } from "@otp/contracts";
import type { Channel as AmqpChannel } from "amqplib";

/**
 * Declares delay queues on first use and remembers them: a retry is published to the default
 * exchange with the delay queue's name as routing key, which only routes once the queue exists.
 * The memory is dropped on every reconnection (a broker may come back without them).
 */
export class DelayQueues {
  readonly #connection: ManagedConnection;
  readonly #topology: Topology;
  readonly #declared = new Map<string, Promise<string>>();

  constructor(connection: ManagedConnection, topology: Topology) {
    this.#connection = connection;
    this.#topology = topology;
    connection.on("connected", () => this.#declared.clear());
  }

  /** The name of the delay queue for `channel` and `delayMs`, declared. */
  ensure(channel: DispatchRoute, delayMs: number): Promise<string> {
    const name = this.#topology.delayQueue(channel, delayMs);
    let declared = this.#declared.get(name);
    if (!declared) {
      declared = this.#declare(channel, delayMs);
      this.#declared.set(name, declared);
      declared.catch(() => this.#declared.delete(name));
    }
    return declared;
  }

  /** Forgets a queue (e.g. its publish came back unroutable: someone deleted it). */
  forget(channel: DispatchRoute, delayMs: number): void {
    this.#declared.delete(this.#topology.delayQueue(channel, delayMs));
  }

  /**
   * Declares the dead-letter queue again: a dead letter that came back unroutable found it deleted
   * (an operator clearing it), and the topology is declared only on connecting, so without this
   * every dead letter would hold its message until the next reconnection.
   */
  restoreDeadQueue(): Promise<void> {
    return this.#onChannel((ch) => assertDeadQueue(ch, this.#topology));
  }

  #declare(channel: DispatchRoute, delayMs: number): Promise<string> {
    return this.#onChannel((ch) => assertDelayQueue(ch, this.#topology, channel, delayMs));
  }

  async #onChannel<T>(declare: (ch: AmqpChannel) => Promise<T>): Promise<T> {
    const connection = this.#connection.connection;
    if (!connection) throw new BrokerUnavailableError("not connected to RabbitMQ");
    // A channel of its own: a failed declaration closes the channel it ran on.
    const ch = await connection.createChannel();
    ch.on("error", () => {});
    try {
      return await declare(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  }
}
