import { POISON_DELIVERY_LIMIT } from "@otp/broker";
import type { Channel } from "@otp/contracts";
import { until } from "@otp/testkit";
import { describe, expect, it } from "vitest";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { useHarness } from "./support/harness.js";

const h = useHarness("poison");

/**
 * Plays a dispatcher that crashes while handling the message: takes it off the work queue and dies
 * holding it (its channel closes, unacked), `times` times over. Each counts towards the queue's
 * delivery limit, as a real crash does.
 */
async function crashWhileHandling(channel: Channel, times: number): Promise<void> {
  const connection = await h.amqp();
  for (let i = 0; i < times; i++) {
    const ch = await connection.createChannel();
    // Got (unacked) once: the message is now held by this channel, until it closes.
    await until(async () => (await ch.get(h.t.workQueue(channel), { noAck: false })) !== false, {
      what: `delivery ${i + 1} of the ${channel} message`,
    });
    await ch.close();
  }
}

describe("a message that keeps crashing its consumer (poison)", () => {
  it("on its last allowed delivery it is dead-lettered as poison and its OTP recorded failed, nothing sent; one delivery earlier it is still delivered", async () => {
    const poison = await h.send({ channel: "sms", target: "77010000021", message: "code {password}" });
    await crashWhileHandling("sms", POISON_DELIVERY_LIMIT);
    const almost = await h.send({ channel: "call", target: "77010000022" });
    await crashWhileHandling("call", POISON_DELIVERY_LIMIT - 1);

    await h.start({ OTP_DELIVERY_MODE: "direct", DISPATCHER_CHANNELS: "sms,call" });

    await expect.poll(() => h.status(poison.otp_id), { timeout: 10_000 }).toBe("failed");
    const row = await h.row(poison.otp_id);
    expect(row.attempts).toBe(0);
    expect(row.lastError).toBe(
      `poison: handed out ${POISON_DELIVERY_LIMIT} times before without an outcome; not tried again`,
    );
    // Our copy, with our reason: not a bare broker dead letter (reason "broker: delivery_limit").
    await expect
      .poll(async () => (await listDeadLetters(await h.amqp(), h.t)).filter((l) => l.id === poison.id), {
        timeout: 10_000,
      })
      .toEqual([expect.objectContaining({ channel: "sms", otpId: poison.otp_id, reason: "poison", attempts: 0 })]);
    await expect.poll(() => h.messageCount(h.t.workQueue("sms")), { timeout: 10_000 }).toBe(0);

    await expect.poll(() => h.status(almost.otp_id), { timeout: 10_000 }).toBe("delivered");
    expect(h.provider.requests().map((r) => r.headers["idempotency-key"])).toEqual([almost.id]);
  });
});
