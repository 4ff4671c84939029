import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagedConnection } from "../src/connection.js";
import { BrokerUnavailableError, PublishFailedError } from "../src/errors.js";
import { silentLog } from "../src/log.js";
import { ConfirmPublisher } from "../src/publisher.js";
import { TcpProxy, useTestBroker } from "../src/testing/index.js";
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

  it("keeps thousands of publishes in flight: every one reaches its queue before any confirm comes back", async () => {
    // A publisher whose confirms can be held back: with none coming back, a publisher that waits
    // for each confirm before the next publish gets one message out; one that streams gets all n.
    // (Counting the queue, not timing the run: confirm latency and machine load do not matter.)
    const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
    const url = new URL(broker.url);
    url.hostname = "127.0.0.1";
    url.port = String(await proxy.start());
    const proxied = new ManagedConnection({ url: url.toString(), name: "held", log: silentLog, heartbeatSeconds: 60 });
    const streaming = await ConfirmPublisher.attach(proxied, { log: silentLog, confirmTimeoutMs: 60_000 });
    proxied.start();
    await proxied.waitForConnection(10_000);
    try {
      const n = 3000;
      const queue = t.workQueue("email");
      proxy.holdReplies();
      let confirmed = 0;
      const settled = Promise.allSettled(
        Array.from({ length: n }, async (_, i) => {
          await streaming.publish(t.exchange, "email", Buffer.from(JSON.stringify({ i })), { messageId: randomUUID() });
          confirmed++;
        }),
      );
      await expect.poll(() => messageCount(queue), { timeout: 20_000 }).toBe(n);
      expect(confirmed).toBe(0);
      proxy.releaseReplies();
      // ... and every one of them is then confirmed.
      expect((await settled).filter((r) => r.status === "rejected")).toEqual([]);
    } finally {
      proxy.releaseReplies();
      await proxied.close();
      await proxy.stop();
    }
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

describe("ConfirmPublisher, a channel RabbitMQ will not give back at once", () => {
  it("keeps trying to reopen its channel while the connection lives, and publishes again once it can", async () => {
    // Two channels on this connection: the publisher's, and one the test holds.
    const url = new URL(broker.url);
    url.searchParams.set("channelMax", "2");
    const small = new ManagedConnection({ url: url.toString(), name: "test-small", log: silentLog });
    const own = await ConfirmPublisher.attach(small, { log: silentLog, confirmTimeoutMs: 5_000 });
    small.start();
    await small.waitForConnection(10_000);
    const amqpConnection = small.connection as amqp.ChannelModel;
    const held = [await amqpConnection.createChannel()];
    try {
      // Publishing to an exchange that does not exist closes the publisher's channel (404) …
      await expect(
        own.publish(`${t.exchange}.missing`, "sms", Buffer.from("{}"), { messageId: randomUUID() }),
      ).rejects.toThrow();
      // … and the test takes the channel number it freed before the publisher can reopen it.
      held.push(await amqpConnection.createChannel());
      await new Promise((r) => setTimeout(r, 700)); // its first reopen (after 200 ms) has failed
      expect(own.isReady).toBe(false);
      await held.pop()?.close();
      await expect.poll(() => own.isReady, { timeout: 10_000 }).toBe(true);
      await own.publish(t.exchange, "sms", Buffer.from('{"again":1}'), { messageId: randomUUID() });
    } finally {
      for (const ch of held) await ch.close().catch(() => {});
      await small.close();
    }
  });
});

describe("ConfirmPublisher, a confirm that comes late on a channel that stays open", () => {
  /** A publisher whose confirms a proxy can hold back, the channel staying open. */
  async function behindProxy(name: string, confirmTimeoutMs: number) {
    const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
    const url = new URL(broker.url);
    url.hostname = "127.0.0.1";
    url.port = String(await proxy.start());
    const connection = new ManagedConnection({ url: url.toString(), name, log: silentLog, heartbeatSeconds: 60 });
    const publisher = await ConfirmPublisher.attach(connection, { log: silentLog, confirmTimeoutMs });
    connection.start();
    await connection.waitForConnection(10_000);
    const close = async () => {
      proxy.releaseReplies();
      await connection.close();
      await proxy.stop();
    };
    return { proxy, publisher, close };
  }

  it("sends no copy of a message while its confirm is outstanding, and counts it published once RabbitMQ confirms it", async () => {
    // What a quorum queue without its majority does (under ignore or autoheal partition handling):
    // it keeps the message and confirms it when the majority is back.
    const { proxy, publisher: late, close } = await behindProxy("late", 500);
    const queue = t.workQueue("call");
    const before = await messageCount(queue);
    const id = randomUUID();
    const publishIt = () => late.publish(t.exchange, "call", Buffer.from('{"late":1}'), { messageId: id });
    try {
      proxy.holdReplies();
      await expect(publishIt()).rejects.toBeInstanceOf(PublishFailedError); // the confirm timed out
      // The relay would publish it again on its next pass: refused, and nothing sent.
      await expect(publishIt()).rejects.toThrow(/still waiting for RabbitMQ's confirm/);
      await expect(publishIt()).rejects.toThrow(/still waiting/);
      expect(await messageCount(queue)).toBe(before + 1);
      // Another message with that id (a retry's next copy carries its event's id) is sent.
      const next = { messageId: id, headers: { "x-attempt": 2 } };
      await expect(late.publish(t.exchange, "call", Buffer.from('{"late":1}'), next)).rejects.toThrow(/no confirm/);
      await expect.poll(() => messageCount(queue), { timeout: 5_000 }).toBe(before + 2);
      proxy.releaseReplies();
      // Once the late confirm is in, publishing it again resolves without a copy.
      const outcome = () =>
        publishIt().then(
          () => "published",
          () => "refused",
        );
      await expect.poll(outcome, { timeout: 5_000 }).toBe("published");
      expect(await messageCount(queue)).toBe(before + 2);
      // Remembered once only: a later publish of the same id is a new message.
      await publishIt();
      expect(await messageCount(queue)).toBe(before + 3);
    } finally {
      await close();
    }
  });

  it("refuses a copy while the first publish is still in flight, and lets the copy resolve once that is confirmed", async () => {
    // The create's own publish and the relay's claim of its row, 5 s later, while confirms are slow.
    const { proxy, publisher, close } = await behindProxy("slow", 60_000);
    const queue = t.workQueue("email");
    const before = await messageCount(queue);
    const publishIt = () => publisher.publish(t.exchange, "email", Buffer.from('{"slow":1}'), { messageId: "slow-1" });
    try {
      proxy.holdReplies();
      const first = publishIt();
      await expect(publishIt()).rejects.toThrow(/still waiting/);
      proxy.releaseReplies();
      await first;
      await publishIt();
      expect(await messageCount(queue)).toBe(before + 1);
    } finally {
      await close();
    }
  });

  it("lets a message whose confirm never came be sent again once its connection is lost", async () => {
    const { proxy, publisher: late, close } = await behindProxy("cut", 500);
    const queue = t.workQueue("sms");
    const before = await messageCount(queue);
    const publishIt = () => late.publish(t.exchange, "sms", Buffer.from('{"cut":1}'), { messageId: "cut-1" });
    try {
      proxy.holdReplies();
      await expect(publishIt()).rejects.toThrow(/no confirm/);
      await expect(publishIt()).rejects.toThrow(/still waiting/);
      // The connection is lost: RabbitMQ will never confirm on it, so the message is sent again.
      await proxy.cut();
      await proxy.restore();
      await expect.poll(() => proxy.accepted > 1 && late.isReady, { timeout: 10_000 }).toBe(true);
      await publishIt();
      expect(await messageCount(queue)).toBe(before + 2);
    } finally {
      await close();
    }
  });
});
