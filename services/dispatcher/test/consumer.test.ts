import { randomUUID } from "node:crypto";
import { assertTopology, createBrokerClient, type Log, silentLog } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import amqp from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { type MessageHandler, QueueConsumer } from "../src/consume/consumer.js";

const broker = useTestBroker("consumer");
const {
  connection,
  publisher,
  topology: t,
} = await createBrokerClient({ ...broker, name: "consumer-test", log: silentLog });
afterAll(() => connection.close());

it("declares its queue again only after the broker cancelled the consumer, not on every consume", async () => {
  let declares = 0;
  const received: string[] = [];
  const consumer = new QueueConsumer(connection, {
    queue: t.workQueue("sms"),
    prefetch: 1,
    log: silentLog,
    handler: async (message) => {
      received.push(message.content.toString("utf8"));
      return "ack";
    },
    declare: async (ch) => {
      declares++;
      await assertTopology(ch, t, ["sms"]);
    },
  });
  await consumer.attach();
  connection.start();
  await expect.poll(() => consumer.isConsuming, { timeout: 10_000 }).toBe(true);
  // The connection's setup hook declared the topology just before: nothing more to declare.
  expect(declares).toBe(0);

  const admin = await amqp.connect(broker.url);
  try {
    const ch = await admin.createChannel();
    await ch.deleteQueue(t.workQueue("sms"));
    await expect.poll(() => declares, { timeout: 5_000 }).toBe(1);
    await expect.poll(() => consumer.isConsuming, { timeout: 5_000 }).toBe(true);
    ch.publish(t.exchange, "sms", Buffer.from("after the queue came back"), { persistent: true });
    await expect.poll(() => received, { timeout: 10_000 }).toEqual(["after the queue came back"]);
    expect(declares).toBe(1);
  } finally {
    await consumer.stop(1_000);
    await admin.close();
  }
});

/** A consumer of one channel's work queue with `handler`, consuming before this returns. */
async function consuming(channel: "call" | "email", handler: MessageHandler, log: Log = silentLog) {
  const consumer = new QueueConsumer(connection, { queue: t.workQueue(channel), prefetch: 1, log, handler });
  await consumer.attach();
  connection.start();
  await expect.poll(() => consumer.isConsuming, { timeout: 10_000 }).toBe(true);
  return consumer;
}

async function publishTo(channel: "call" | "email", text: string): Promise<void> {
  await connection.waitForConnection(10_000);
  await publisher.publish(t.exchange, channel, Buffer.from(text), { messageId: randomUUID() });
}

async function messageCount(queue: string): Promise<number> {
  const ch = await (await connection.waitForConnection(10_000)).createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

describe("the settlement contract", () => {
  it("a handler that throws has a bug: logged, and the message given back after a pause, counted as a delivery", async () => {
    const errors: string[] = [];
    const log: Log = { ...silentLog, error: (_obj, msg) => errors.push(msg ?? "") };
    const seen: { at: number; deliveryCount: unknown }[] = [];
    const consumer = await consuming(
      "call",
      async (message) => {
        seen.push({ at: Date.now(), deliveryCount: message.properties.headers?.["x-delivery-count"] });
        if (seen.length === 1) throw new TypeError("a bug");
        return "ack";
      },
      log,
    );
    try {
      await publishTo("call", "buggy");
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
      expect(errors).toEqual(["unexpected error handling a message"]);
      // Given back (nack, requeue) after the pause, not at once: a bug must not spin.
      expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
      // The return counts towards the queue's delivery limit, which ends a message that always fails.
      expect(seen.map((s) => s.deliveryCount ?? 0)).toEqual([0, 1]);
      await expect.poll(() => messageCount(t.workQueue("call"))).toBe(0);
    } finally {
      await consumer.stop(1_000);
    }
  });

  it("abandon: neither acked nor given back; the message returns to its queue when its channel closes", async () => {
    const seen: string[] = [];
    const consumer = await consuming("email", async (message) => {
      seen.push(message.content.toString("utf8"));
      return "abandon";
    });
    let stopped = false;
    try {
      await publishTo("email", "abandoned");
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(1);
      // Held by this consumer's channel (prefetch 1): not back in the queue, not handed out again.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(seen).toEqual(["abandoned"]);
      expect(await messageCount(t.workQueue("email"))).toBe(0);
      await consumer.stop(1_000);
      stopped = true;
      await expect.poll(() => messageCount(t.workQueue("email")), { timeout: 10_000 }).toBe(1);
    } finally {
      if (!stopped) await consumer.stop(1_000);
    }
  });
});
