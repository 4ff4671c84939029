import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagedConnection } from "../src/connection.js";
import { BrokerUnavailableError, PublishFailedError } from "../src/errors.js";
import { silentLog } from "../src/log.js";
import { ConfirmPublisher } from "../src/publisher.js";
import { useTestBroker } from "../src/testing/index.js";
import { assertTopology, topology } from "../src/topology.js";

const broker = useTestBroker("pub");
const t = topology(broker.prefix);

let connection: ManagedConnection;
let publisher: ConfirmPublisher;
let inspector: amqp.ChannelModel;

beforeAll(async () => {
  connection = new ManagedConnection({ url: broker.url, name: "test", log: silentLog, minReconnectDelayMs: 50 });
  await connection.addSetup(async (c) => {
    const ch = await c.createChannel();
    await assertTopology(ch, t);
    await assertTopology(ch, t); // idempotent: every process declares on every connect
    await ch.close();
  });
  publisher = await ConfirmPublisher.attach(connection, { log: silentLog, confirmTimeoutMs: 5_000 });
  connection.start();
  await connection.waitForConnection(10_000);
  inspector = await amqp.connect(broker.url);
});

afterAll(async () => {
  await connection.close();
  await inspector.close();
});

async function messageCount(queue: string): Promise<number> {
  const ch = await inspector.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

describe("ConfirmPublisher", () => {
  it("routes a confirmed message to the channel's work queue, persistent and with its id", async () => {
    const id = randomUUID();
    await publisher.publish(t.exchange, "sms", Buffer.from('{"hello":1}'), { messageId: id });
    const ch = await inspector.createChannel();
    const message = await ch.get(t.workQueue("sms"), { noAck: true });
    await ch.close();
    expect(message).not.toBe(false);
    if (message === false) return;
    expect(message.content.toString()).toBe('{"hello":1}');
    expect(message.properties.messageId).toBe(id);
    expect(message.properties.deliveryMode).toBe(2);
    expect(message.properties.contentType).toBe("application/json");
  });

  it("keeps thousands of publishes in flight and confirms every one", async () => {
    const n = 3000;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        publisher.publish(t.exchange, "email", Buffer.from(JSON.stringify({ i })), { messageId: randomUUID() }),
      ),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    await expect.poll(() => messageCount(t.workQueue("email")), { timeout: 5_000 }).toBe(n);
  });

  it("rejects a message no queue would receive instead of letting the broker drop it", async () => {
    await expect(
      publisher.publish(t.exchange, "no-such-channel", Buffer.from("{}"), { messageId: randomUUID() }),
    ).rejects.toBeInstanceOf(PublishFailedError);
    // The channel is still usable afterwards.
    await publisher.publish(t.exchange, "call", Buffer.from("{}"), { messageId: randomUUID() });
  });

  it("fails fast while disconnected, and works again after reconnecting by itself", async () => {
    const current = connection.connection;
    if (!current) throw new Error("not connected");
    const reconnected = new Promise((resolve) => connection.once("connected", resolve));
    await current.close(); // what a broker restart looks like from here
    await expect(
      publisher.publish(t.exchange, "telegram", Buffer.from("{}"), { messageId: randomUUID() }),
    ).rejects.toBeInstanceOf(BrokerUnavailableError);
    await reconnected;
    await publisher.publish(t.exchange, "telegram", Buffer.from("{}"), { messageId: randomUUID() });
    expect(await messageCount(t.workQueue("telegram"))).toBe(1);
  });
});
