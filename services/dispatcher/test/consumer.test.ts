import { assertTopology, createBrokerClient, silentLog } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import amqp from "amqplib";
import { afterAll, expect, it } from "vitest";
import { QueueConsumer } from "../src/consume/consumer.js";

const broker = useTestBroker("consumer");
const { connection, topology: t } = await createBrokerClient({ ...broker, name: "consumer-test", log: silentLog });
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
