import { runRabbitmqctl } from "@otp/testkit";
import amqp from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { useHarness } from "./support/harness.js";

/**
 * `dlq list` during a RabbitMQ resource alarm (docs/operations.md, "The dead-letter queue"): it
 * puts the letters it read back as copies, and a blocked connection confirms no copy; the command
 * must still answer, and leave every letter. The alarm is raised for every user of the broker, so
 * this file runs alone (`*.disruptive.test.ts`).
 */

const h = useHarness("dlq-alarm");
const rabbitmqctl = (...args: string[]) => runRabbitmqctl(args, 60_000);
/** The broker's own high watermark, read before the test changes it, to be put back after. */
let watermark: string | undefined;

beforeAll(async () => {
  const stdout = (await rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")).trim();
  if (!/^[\d.]+$/.test(stdout)) throw new Error(`cannot read RabbitMQ's memory high watermark: ${stdout}`);
  watermark = stdout;
});
afterAll(async () => {
  if (watermark !== undefined) await rabbitmqctl("set_vm_memory_high_watermark", watermark);
});

it("lists the letters within seconds and leaves every one, though no copy is confirmed", async () => {
  const ids = ["alarm-1", "alarm-2", "alarm-3"];
  const setup = await (await h.amqp()).createConfirmChannel();
  for (const id of ids) setup.sendToQueue(h.t.deadQueue, Buffer.from("{}"), { messageId: id, persistent: true });
  await setup.waitForConfirms();
  await setup.close();
  // A connection of its own, as the command has: the alarm blocks it once it publishes a copy.
  const connection = await amqp.connect(h.broker.url);
  connection.on("error", () => {});
  await rabbitmqctl("set_vm_memory_high_watermark", "0.000001");
  try {
    const listed = await Promise.race([
      listDeadLetters(connection, h.t).then((letters) => letters.map((l) => l.id)),
      new Promise((r) => setTimeout(() => r("still listing after 30 s"), 30_000)),
    ]);
    expect(listed).toEqual(ids);
  } finally {
    // What the command does last: its connection closed, or dropped when the broker reads nothing.
    await Promise.race([connection.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))]);
    (connection as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await rabbitmqctl("set_vm_memory_high_watermark", watermark as string);
  }
  // Every letter stays. RabbitMQ took the first copy before it blocked the connection, and queues
  // it once the alarm clears, while the letters themselves went back unacked: that one is there
  // twice (docs/operations.md, "The dead-letter queue"), never missing.
  await expect.poll(() => h.messageCount(h.t.deadQueue), { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
  const left = (await listDeadLetters(await h.amqp(), h.t)).map((l) => l.id);
  expect(new Set(left)).toEqual(new Set(ids));
  expect(left.length).toBeLessThanOrEqual(ids.length + 1);
});
