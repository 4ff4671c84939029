import { randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManagedConnection } from "../src/connection.js";
import { PublishFailedError } from "../src/errors.js";
import { silentLog } from "../src/log.js";
import { ConfirmPublisher } from "../src/publisher.js";
import { TcpProxy, useTestBroker } from "../src/testing/index.js";
import { assertTopology, topology } from "../src/topology.js";

/**
 * Every publish settles in its time: when RabbitMQ stops reading the socket, when the channel
 * closes with confirms pending (some of them confirmed out of order), and a return seen on a
 * closed channel does not outlive it.
 */

const broker = useTestBroker("settle");
const t = topology(broker.prefix);

let inspector: ChannelModel;
beforeAll(async () => {
  inspector = await amqp.connect(broker.url);
});
afterAll(async () => {
  await inspector.close();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A publisher on a connection of its own, to `url` (the broker, or a proxy in front of it). */
async function publisherTo(url: string, confirmTimeoutMs: number) {
  const connection = new ManagedConnection({
    url,
    name: "settle",
    log: silentLog,
    minReconnectDelayMs: 50,
    // Far longer than any test: only what the test does may end the connection.
    heartbeatSeconds: 60,
  });
  await connection.addSetup(async (c) => {
    const ch = await c.createChannel();
    await assertTopology(ch, t);
    await ch.close();
  });
  const publisher = await ConfirmPublisher.attach(connection, { log: silentLog, confirmTimeoutMs });
  connection.start();
  await connection.waitForConnection(10_000);
  cleanups.push(() => connection.close());
  return { connection, publisher };
}

/** The publisher's confirm channel: amqplib keeps a connection's channels there (not in its typings). */
function publisherChannel(connection: ChannelModel): EventEmitter {
  const inner = connection as unknown as { connection: { channels: ({ channel: EventEmitter } | null)[] } };
  const open = inner.connection.channels.slice(1).filter((c) => c !== null);
  if (open.length !== 1) throw new Error(`expected the publisher's channel alone, found ${open.length}`);
  return (open[0] as { channel: EventEmitter }).channel;
}

/** What became of a publish: "confirmed", or its error. */
function outcome(publish: Promise<void>): Promise<"confirmed" | Error> {
  return publish.then(
    () => "confirmed" as const,
    (error: Error) => error,
  );
}

/** `work`'s result, or a failure naming what did not settle within `ms`. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("ConfirmPublisher, RabbitMQ no longer reading the connection (no connection.blocked)", () => {
  it("fails each publish within its confirm timeout, one that waits for the drain included, and is not ready meanwhile", async () => {
    const proxy = new TcpProxy("127.0.0.1", Number(new URL(broker.url).port || 5672));
    const url = new URL(broker.url);
    url.hostname = "127.0.0.1";
    url.port = String(await proxy.start());
    cleanups.push(() => proxy.stop());
    const { publisher } = await publisherTo(url.toString(), 1_000);
    const publishOne = () =>
      outcome(publisher.publish(t.exchange, "sms", Buffer.alloc(4096, 0x20), { messageId: randomUUID() }));

    proxy.holdRequests();
    // Publishes fill the kernel's buffers, then amqplib's, until its publish says "wait for the
    // drain" (some 2,000 publishes beyond what the socket holds).
    const sent: Promise<"confirmed" | Error>[] = [];
    for (let bytes = 0; !publisher.draining && bytes < 64 * 2 ** 20; bytes += 200 * 4096) {
      for (let i = 0; i < 200; i++) sent.push(publishOne());
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(publisher.draining).toBe(true);
    // A brief wait for the drain is a burst, not an outage: still ready.
    expect(publisher.isReady).toBe(true);
    const started = performance.now();
    const waiting = [publishOne(), publishOne()]; // the relay's next pass: they wait for the drain
    const outcomes = await within(3_000, "the publishes waiting for the drain", Promise.all(waiting));
    for (const o of outcomes) expect(o).toBeInstanceOf(PublishFailedError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900); // their confirm timeout, not less
    // A second without a drain: not ready, so the after-commit fast path leaves its rows to the relay.
    await expect.poll(() => publisher.isReady, { timeout: 2_000 }).toBe(false);
    for (const o of await within(3_000, "the publishes sent", Promise.all(sent))) {
      expect(o).toBeInstanceOf(PublishFailedError);
    }

    // RabbitMQ reads again: the buffer drains, and publishing works as before.
    proxy.releaseRequests();
    await expect.poll(() => publisher.isReady, { timeout: 20_000 }).toBe(true);
    expect(await publishOne()).toBe("confirmed");
  });
});

describe("ConfirmPublisher, a channel that closes with confirms pending", () => {
  it("fails every publish still awaiting its confirm at once, those behind one confirmed out of order included", async () => {
    const { connection, publisher } = await publisherTo(broker.url, 30_000);
    const amqpConnection = connection.connection as ChannelModel;
    const channel = publisherChannel(amqpConnection);
    const publishTo = (route: string) =>
      outcome(publisher.publish(t.exchange, route, Buffer.alloc(1024, 0x20), { messageId: randomUUID() }));
    // RabbitMQ confirms an unroutable message at once, one for a quorum queue once its log holds
    // it: the 21st publish is confirmed ahead of the 20 before it. At that confirm (the 20 after
    // it still pending) the connection closes; amqplib handles no frame after a close began.
    let outOfOrder: boolean | undefined;
    channel.on("ack", ({ deliveryTag, multiple }: { deliveryTag: number; multiple: boolean }) => {
      if (outOfOrder !== undefined || deliveryTag < 21) return;
      outOfOrder = deliveryTag === 21 && !multiple;
      amqpConnection.close().catch(() => {});
    });
    const before = Array.from({ length: 20 }, () => publishTo("email"));
    const unroutable = publishTo(`nowhere-${randomUUID()}`);
    const after = Array.from({ length: 20 }, () => publishTo("email"));

    // Well within the confirm timeout (30 s), which is what those behind the gap waited for.
    const outcomes = await within(3_000, "the publishes pending at the close", Promise.all([...before, ...after]));
    expect(outOfOrder).toBe(true);
    expect(await unroutable).toBeInstanceOf(PublishFailedError);
    for (const o of outcomes.slice(20)) {
      expect(o).toBeInstanceOf(PublishFailedError);
      expect(String(o)).toMatch(/channel closed/);
    }
  });

  it("forgets a message's return with its channel: published again once routable, it is confirmed", async () => {
    const { connection, publisher } = await publisherTo(broker.url, 1_000);
    const amqpConnection = connection.connection as ChannelModel;
    const channel = publisherChannel(amqpConnection);
    const route = `later-${randomUUID()}`;
    const id = randomUUID();
    const publishTo = (r: string, messageId = randomUUID()) =>
      outcome(publisher.publish(t.exchange, r, Buffer.from("{}"), { messageId }));
    // A confirm out of order (see above) leaves a gap in amqplib's list of pending confirms …
    let outOfOrder: boolean | undefined;
    channel.on("ack", ({ deliveryTag, multiple }: { deliveryTag: number; multiple: boolean }) => {
      if (outOfOrder === undefined && deliveryTag >= 21) outOfOrder = deliveryTag === 21 && !multiple;
    });
    const [quorum, unroutable] = [Array.from({ length: 20 }, () => publishTo("call")), publishTo(`nowhere-${id}`)];
    await Promise.all([...quorum, unroutable]);
    expect(outOfOrder).toBe(true);
    // … and a message behind it is returned, the connection closing before its confirm comes.
    channel.once("return", () => amqpConnection.close().catch(() => {}));
    expect(await within(3_000, "the returned publish", publishTo(route, id))).toBeInstanceOf(PublishFailedError);

    // Reconnected, and with a queue bound to the route now: that message is routed and confirmed.
    await expect.poll(() => publisher.isReady && connection.connection !== amqpConnection).toBe(true);
    const ch = await inspector.createChannel();
    const queue = `${broker.prefix}.${route}`;
    await ch.assertQueue(queue, { autoDelete: true });
    await ch.bindQueue(queue, t.exchange, route);
    cleanups.push(() => ch.close());
    expect(await publishTo(route, id)).toBe("confirmed");
    expect((await ch.checkQueue(queue)).messageCount).toBe(1);
  });
});

describe("ConfirmPublisher, its channel closed while the connection's later setup hooks still run", () => {
  it("opens a new channel once the connection is up, instead of staying without one", async () => {
    const connection = new ManagedConnection({ url: broker.url, name: "settle", log: silentLog, heartbeatSeconds: 60 });
    cleanups.push(() => connection.close());
    await connection.addSetup(async (c) => {
      const ch = await c.createChannel();
      await assertTopology(ch, t);
      await ch.close();
    });
    const publisher = await ConfirmPublisher.attach(connection, { log: silentLog, confirmTimeoutMs: 5_000 });
    let hookRan!: () => void;
    const hookRunning = new Promise<void>((resolve) => {
      hookRan = resolve;
    });
    // A later hook that takes a while (a consume during a leader election, say).
    await connection.addSetup(async () => {
      hookRan();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    });
    connection.start();
    await hookRunning;
    // A channel-level error closes the publisher's channel: a publish to an exchange that is not there.
    const error = await outcome(
      publisher.publish(`${broker.prefix}.no-such-exchange`, "x", Buffer.from("{}"), { messageId: randomUUID() }),
    );
    expect(error).toBeInstanceOf(Error);
    await connection.waitForConnection(10_000);
    await expect.poll(() => publisher.isReady, { timeout: 5_000 }).toBe(true);
    expect(await outcome(publisher.publish(t.exchange, "sms", Buffer.from("{}"), { messageId: randomUUID() }))).toBe(
      "confirmed",
    );
  });
});
