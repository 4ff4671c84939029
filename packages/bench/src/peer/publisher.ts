import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";

/**
 * The peer's RabbitMQ side, as an afternoon's service has it: one connection, one confirm channel,
 * a durable queue with the broker's default type, persistent messages, each publish awaited until
 * its confirm.
 */
export class PeerPublisher {
  readonly #connection: ChannelModel;
  readonly #channel: ConfirmChannel;
  readonly #queue: string;

  private constructor(connection: ChannelModel, channel: ConfirmChannel, queue: string) {
    this.#connection = connection;
    this.#channel = channel;
    this.#queue = queue;
  }

  static async connect(url: string, queue: string): Promise<PeerPublisher> {
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    return new PeerPublisher(connection, channel, queue);
  }

  readonly publish = (message: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      this.#channel.sendToQueue(this.#queue, message, { persistent: true, contentType: "application/json" }, (error) =>
        error ? reject(error) : resolve(),
      );
    });

  async close(): Promise<void> {
    await this.#connection.close();
  }
}
