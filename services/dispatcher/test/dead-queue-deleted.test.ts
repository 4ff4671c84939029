import { describe, expect, it } from "vitest";
import { useHarness } from "./support/harness.js";

const h = useHarness("dead-queue-deleted");

describe("the dead-letter queue deleted while a dispatcher runs", () => {
  it("is declared again by the first dead letter that finds it gone, which then lands there", async () => {
    // An operator clearing the dead letters by deleting the queue: the topology is declared only on
    // connecting, so a dead letter's copy would come back unroutable, and be retried, until then.
    h.provider.reset();
    h.provider.addRule({ path: "/smsvc", status: 422, body: { status: false, message: "blacklisted" } });
    const d = await h.start({ OTP_DELIVERY_MODE: "direct", DISPATCHER_CHANNELS: "sms" });
    try {
      const ch = await (await h.amqp()).createChannel();
      await ch.deleteQueue(h.t.deadQueue);
      await ch.close();
      const event = await h.send({ channel: "sms", target: "77010000071", message: "code {password}" });
      await expect.poll(() => h.status(event.otp_id), { timeout: 10_000 }).toBe("failed");
      expect(await h.messageCount(h.t.deadQueue)).toBe(1);
    } finally {
      await d.stop();
    }
  });
});
