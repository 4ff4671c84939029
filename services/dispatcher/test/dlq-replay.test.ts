import {
  type ConfirmPublisher,
  createBrokerClient,
  type ManagedConnection,
  PublishFailedError,
  silentLog,
  topology,
} from "@otp/broker";
import { type DeliveryEvent, WEBHOOK_ROUTE, type WebhookMessage } from "@otp/contracts";
import { metricValue } from "@otp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../src/dispatcher.js";
import { listDeadLetters, type ReplayPublisher, replayDeadLetters } from "../src/dlq/dead-letters.js";
import { StatusStore } from "../src/status/status-store.js";
import { useHarness } from "./support/harness.js";
import { emit, relayWebhooks, subscribe } from "./support/webhooks.js";

const h = useHarness("dlq-replay");
let managed: ManagedConnection;
let publisher: ConfirmPublisher;

beforeAll(async () => {
  ({ connection: managed, publisher } = await createBrokerClient({
    ...h.broker,
    name: "dlq-replay-test",
    log: silentLog,
  }));
  managed.start();
  await managed.waitForConnection(10_000);
});
afterAll(() => managed.close());

/** An sms event rejected by the provider (422): failed, and its copy in the dead-letter queue. */
async function deadLettered(target: string): Promise<DeliveryEvent> {
  h.provider.reset();
  h.provider.addRule({ path: "/smsvc", status: 422, body: { status: false, message: "blacklisted" } });
  const d = await h.start({ OTP_DELIVERY_MODE: "direct", DISPATCHER_CHANNELS: "sms" });
  const before = await h.messageCount(h.t.deadQueue);
  const event = await h.send({ channel: "sms", target, message: "code {password}" });
  await expect.poll(() => h.status(event.otp_id), { timeout: 10_000 }).toBe("failed");
  await expect.poll(() => h.messageCount(h.t.deadQueue), { timeout: 10_000 }).toBe(before + 1);
  // Nobody consumes sms from here on: a replayed copy stays in the work queue for the test to see.
  await d.stop();
  return event;
}

/**
 * Webhooks to a receiver on a private address, refused at send (OTP_WEBHOOK_ALLOW_PRIVATE is false
 * by default): each is dead-lettered `rejected` at once, and so is every replayed copy of it. With
 * `twice`, every message is published twice (an outbox row relayed again): two letters, one id.
 */
async function rejectedWebhooks(d: Dispatcher, n: number, { twice = false } = {}): Promise<WebhookMessage[]> {
  await h.pool.query("DELETE FROM webhook");
  await subscribe(h, "http://127.0.0.1:1/hooks");
  const before = await rejected(d);
  for (let i = 0; i < n; i++) {
    const event = await h.createOtp({ channel: "sms", target: `770100000${40 + i}` });
    expect(await emit(h, "otp.created", event.otp_id)).toBe(1);
  }
  const { rows } = await h.pool.query<{ body: string }>("SELECT event::text AS body FROM outbox WHERE channel = $1", [
    WEBHOOK_ROUTE,
  ]);
  const messages = await relayWebhooks(h);
  if (twice) for (const r of rows) await h.publish({ channel: WEBHOOK_ROUTE, raw: Buffer.from(r.body) });
  await expect.poll(() => rejected(d), { timeout: 10_000 }).toBe(before + (twice ? 2 * n : n));
  return messages;
}

const rejected = async (d: Dispatcher) =>
  metricValue(await d.metrics.registry.metrics(), "dead_letters_total", { channel: WEBHOOK_ROUTE, reason: "rejected" });

const replay = (p: ReplayPublisher, ids: string[]) =>
  replayDeadLetters(
    {
      connection: managed.connection ?? (undefined as never),
      publisher: p,
      topology: h.t,
      store: new StatusStore(h.pool, h.pgConfig().schema, 5),
    },
    { ids },
  );

describe("dlq replay", () => {
  it("republishes through the confirmed publisher: the copy is in the work queue, the dead-letter queue is empty", async () => {
    const event = await deadLettered("77010000031");
    const result = await replay(publisher, [event.id]);
    expect(result).toEqual({ replayed: [event.id], skipped: [], failed: [] });
    expect(await h.messageCount(h.t.deadQueue)).toBe(0);
    expect(await h.status(event.otp_id)).toBe("pending");

    const ch = await (await h.amqp()).createChannel();
    const copy = await ch.get(h.t.workQueue("sms"), { noAck: true });
    await ch.close();
    expect(copy).not.toBe(false);
    if (copy === false) return;
    expect(copy.properties.messageId).toBe(event.id);
    expect(JSON.parse(copy.content.toString("utf8"))).toEqual(event);
    // A fresh start: none of the dead letter's bookkeeping (attempt counter, reason) comes along.
    const headers = Object.keys(copy.properties.headers ?? {}).filter((k) => k.startsWith("x-otp-"));
    expect(headers).toEqual([]);
  });

  it("a copy the broker does not confirm: the dead letter stays, the OTP is reopened then failed again, the replay reports it", async () => {
    const event = await deadLettered("77010000032");
    // The status while the copy is being published: the OTP must have been reopened by then, so
    // that "failed" afterwards shows the reopening undone, not a reopening that never happened.
    const statusDuringPublish: string[] = [];
    const failing: ReplayPublisher = {
      publish: async () => {
        statusDuringPublish.push(await h.status(event.otp_id));
        throw new PublishFailedError("no confirm from RabbitMQ within 10000 ms");
      },
    };
    // An id not in the queue: after a failure nothing more is looked at, so it is not reported.
    const result = await replay(failing, [event.id, "not-a-dead-letter"]);
    expect(statusDuringPublish).toEqual(["pending"]);
    expect(result.replayed).toEqual([]);
    expect(result.skipped).toEqual([]);
    expect(result.failed).toEqual([{ id: event.id, why: expect.stringContaining("no confirm") }]);
    // Got but not acked, the dead letter goes back when the replay's channel closes; a quorum queue
    // applies that return a moment after the close, so its count is polled.
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(1);
    expect(await h.messageCount(h.t.workQueue("sms"))).toBe(0);
    expect(await h.status(event.otp_id)).toBe("failed");
  });

  it("an id not in the dead-letter queue is reported skipped; the dead letters not asked for stay", async () => {
    const event = await deadLettered("77010000033");
    const before = await h.messageCount(h.t.deadQueue);
    const result = await replay(publisher, ["not-a-dead-letter"]);
    expect(result).toEqual({
      replayed: [],
      skipped: [{ id: "not-a-dead-letter", why: "not in the dead-letter queue" }],
      failed: [],
    });
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(before); // back after the close, as above
    expect(await h.status(event.otp_id)).toBe("failed");
  });

  it("webhooks that come straight back: the run ends, replays each once, and leaves the returned copies", async () => {
    const d = await h.start({ DISPATCHER_CHANNELS: WEBHOOK_ROUTE });
    try {
      const messages = await rejectedWebhooks(d, 3);
      const ids = messages.map((m) => m.id);
      const before = await h.messageCount(h.t.deadQueue);
      const startedAt = Date.now();
      // Each copy is refused and dead-lettered again before the replay reads on: the worst case of
      // a fast dispatcher. Bounded, so that a replay that loops fails instead of hanging.
      let published = 0;
      const waitingForTheReturn: ReplayPublisher = {
        publish: async (...args) => {
          if (++published > 2 * ids.length) throw new Error("replayed over and over");
          const returned = (await rejected(d)) + 1;
          await publisher.publish(...args);
          await expect.poll(() => rejected(d), { timeout: 10_000 }).toBe(returned);
        },
      };
      const result = await replay(waitingForTheReturn, ids);
      expect(result).toEqual({ replayed: ids, skipped: [], failed: [] });
      // The returned copies stay for the next run (and the letters not asked for, as before).
      await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(before);
      const letters = (await listDeadLetters(await h.amqp(), h.t)).filter((l) => ids.includes(l.id));
      expect(letters.map((l) => l.id).sort()).toEqual([...ids].sort());
      for (const l of letters) {
        expect(l).toMatchObject({ reason: "rejected" });
        expect(Date.parse(l.deadAt ?? "")).toBeGreaterThanOrEqual(startedAt);
      }
    } finally {
      await d.stop();
    }
  });

  it("two dead letters of one id (a message published twice): one replayed, the other skipped and left", async () => {
    const d = await h.start({ DISPATCHER_CHANNELS: WEBHOOK_ROUTE });
    const [message] = await rejectedWebhooks(d, 1, { twice: true }).finally(() => d.stop());
    if (!message) throw new Error("no webhook");
    const before = await h.messageCount(h.t.deadQueue);
    const result = await replay(publisher, [message.id]);
    expect(result).toEqual({
      replayed: [message.id],
      skipped: [{ id: message.id, why: "replayed already in this run" }],
      failed: [],
    });
    await expect.poll(() => h.messageCount(h.t.deadQueue)).toBe(before - 1);
    expect(await h.messageCount(h.t.workQueue(WEBHOOK_ROUTE))).toBe(1);
  });
});

describe("reading the dead-letter queue", () => {
  it("leaves every letter in place however often it is listed or replayed by another id, even under a delivery limit", async () => {
    // RabbitMQ 4 gives every quorum queue a delivery limit (20) and counts a letter handed back by
    // a closed channel as delivered: with nowhere to dead-letter it, the queue drops it past the
    // limit. A queue of its own with a limit of 2 shows that well before the twentieth run.
    const t = topology(`${h.t.prefix}-limited`);
    const amqp = await h.amqp();
    const ch = await amqp.createConfirmChannel();
    await ch.assertQueue(t.deadQueue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-delivery-limit": 2 },
    });
    const ids = ["limited-1", "limited-2", "limited-3"];
    const headers = { "x-otp-dead-reason": "rejected", "x-otp-last-error": "HTTP 422" };
    try {
      for (const id of ids)
        ch.sendToQueue(t.deadQueue, Buffer.from("{}"), { messageId: id, persistent: true, headers });
      await ch.waitForConfirms();
      const replay = {
        connection: amqp,
        publisher,
        topology: t,
        store: { reopen: async () => false, unreopen: async () => {} },
      };
      for (let run = 0; run < 4; run++) {
        const listed = await listDeadLetters(amqp, t);
        expect(listed.map((l) => l.id)).toEqual(ids);
        expect(listed.map((l) => l.lastError)).toEqual(["HTTP 422", "HTTP 422", "HTTP 422"]);
        expect((await replayDeadLetters(replay, { ids: ["not-there"] })).replayed).toEqual([]);
      }
      expect((await ch.checkQueue(t.deadQueue)).messageCount).toBe(3);
    } finally {
      await ch.deleteQueue(t.deadQueue);
      await ch.close();
    }
  });
});
