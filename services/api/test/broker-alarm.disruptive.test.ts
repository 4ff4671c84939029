import { BrokerUnavailableError, createBrokerClient, silentLog } from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import { useTestDatabase } from "@otp/db/testing";
import { runRabbitmqctl } from "@otp/testkit";
import amqp from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freshPhone, startTestApi, type TestApi } from "./support/harness.js";

/**
 * A RabbitMQ resource alarm (docs/operations.md, "Outages"): RabbitMQ blocks publishing
 * connections until it clears. It raises the alarm for every user of the broker, so this file runs
 * alone (`*.disruptive.test.ts`), with the rabbitmqctl the restart tests use (docs/development.md).
 */

const rabbitmqctl = (...args: string[]) => runRabbitmqctl(args, 60_000);

const db = useTestDatabase();
const broker = useTestBroker("api-alarm");
let api: TestApi;
let inspector: amqp.ChannelModel;
/** The broker's own high watermark, read before the test changes it, to be put back after. */
let watermark: string | undefined;

beforeAll(async () => {
  const stdout = (await rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")).trim();
  // A relative one (0.4, RabbitMQ 4's 0.6) prints as a number; anything else is not changed at all.
  if (!/^[\d.]+$/.test(stdout))
    throw new Error(`cannot read RabbitMQ's memory high watermark to restore it: ${stdout}`);
  watermark = stdout;
  api = await startTestApi({ pg: db(), broker });
  inspector = await amqp.connect(broker.url);
});
afterAll(async () => {
  if (watermark !== undefined) await rabbitmqctl("set_vm_memory_high_watermark", watermark);
  await inspector?.close();
  await api?.close();
});

async function queued(): Promise<number> {
  const ch = await inspector.createChannel();
  try {
    return (await ch.checkQueue(api.broker.topology.workQueue("sms"))).messageCount;
  } finally {
    await ch.close();
  }
}

/** Takes every message of the sms queue: how many copies of each event id. */
async function drainCopies(): Promise<Map<string, number>> {
  const ch = await inspector.createChannel();
  const copies = new Map<string, number>();
  try {
    for (;;) {
      const message = await ch.get(api.broker.topology.workQueue("sms"), { noAck: true });
      if (message === false) return copies;
      const id = String(message.properties.messageId);
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
  } finally {
    await ch.close();
  }
}

const health = async () => (await api.call("GET", "/health")).body.content as { broker: boolean };
const sms = () =>
  api.call("POST", "/sms", { phone: freshPhone(), password: "1234", lifetime: 300, message: "Code {password}" });

it("a memory alarm: codes are accepted meanwhile, and each event is published once when it clears", async () => {
  expect((await sms()).status).toBe(200);
  await expect.poll(queued, { timeout: 10_000 }).toBe(1);

  await rabbitmqctl("set_vm_memory_high_watermark", "0.000001");
  try {
    // A backlog the relay publishes at once: RabbitMQ tells a connection of the block only in
    // answer to a publish, so these twenty meet it, and wait in the socket for the alarm's end.
    await api.pool.query(
      `INSERT INTO outbox (id, otp_id, channel, event, created_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'sms', jsonb_build_object('n', i), now() - interval '1 minute'
       FROM generate_series(1, 20) AS i`,
    );
    await expect.poll(async () => (await health()).broker, { timeout: 15_000 }).toBe(false);
    // Codes are still accepted: their events wait in the outbox.
    for (let i = 0; i < 20; i++) expect((await sms()).status).toBe(200);
    // Three confirm timeouts (3 s in the harness): a publish given up on behind the block would
    // have been made again by now, and every copy would be confirmed once the alarm clears.
    await new Promise((r) => setTimeout(r, 9_000));
    const { rows } = await api.pool.query<{ n: number; tried: number }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE relay_attempts > 0)::int AS tried FROM outbox",
    );
    expect(rows[0]).toEqual({ n: 40, tried: 0 });
  } finally {
    await rabbitmqctl("set_vm_memory_high_watermark", watermark as string);
  }
  await expect.poll(async () => (await health()).broker, { timeout: 15_000 }).toBe(true);
  await expect
    .poll(async () => (await api.pool.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n, { timeout: 15_000 })
    .toBe(0);
  await new Promise((r) => setTimeout(r, 1_000));
  // Every event, each once.
  const copies = await drainCopies();
  expect(copies.size).toBe(41);
  expect(new Set(copies.values())).toEqual(new Set([1]));
});

it("a publish waiting for the socket to drain when RabbitMQ blocks the connection is refused, not held for the alarm", async () => {
  // A client of its own, whose confirms may take a minute: only the block can end these waits. Its
  // smallest frames make a big message many writes, enough to fill the channel's buffer.
  const url = new URL(broker.url);
  url.searchParams.set("frameMax", "4096");
  const client = await createBrokerClient({
    url: url.toString(),
    prefix: broker.prefix,
    name: "alarm-drain",
    log: silentLog,
    confirmTimeoutMs: 60_000,
    closeTimeoutMs: 500,
  });
  client.connection.start();
  await client.connection.waitForConnection(10_000);
  const publish = (id: string, bytes: number) =>
    client.publisher.publish(client.topology.exchange, "email", Buffer.alloc(bytes, 0x20), { messageId: id }).then(
      () => "confirmed",
      (error: Error) => (error instanceof BrokerUnavailableError ? "refused" : error.message),
    );
  await rabbitmqctl("set_vm_memory_high_watermark", "0.000001");
  try {
    // RabbitMQ reads the small one, then blocks the connection and reads nothing more: the big
    // one stays in the channel's buffer, so no drain comes, and the publishes queued behind it
    // would wait for the alarm to clear (and a relay pass holding its claim with them).
    void publish("drain-small", 10);
    void publish("drain-big", 64 * 1024 * 1024);
    const waiting = Array.from({ length: 5 }, (_, i) => publish(`drain-${i}`, 10));
    const outcomes = await Promise.race([
      Promise.all(waiting),
      new Promise((r) => setTimeout(() => r("still waiting after 10 s"), 10_000)),
    ]);
    expect(outcomes).toEqual(Array(5).fill("refused"));
  } finally {
    // Closed while blocked: the big message is never taken, the alarm clears on a quiet broker.
    await client.connection.close();
    await rabbitmqctl("set_vm_memory_high_watermark", watermark as string);
  }
});
