import { WEBHOOK_ROUTE } from "@otp/contracts";
import { beforeAll, describe, expect, it } from "vitest";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { REFUSED_ADDRESS } from "../src/webhooks/sender.js";
import { useHarness } from "./support/harness.js";
import { emit, relayWebhooks, subscribe } from "./support/webhooks.js";

const h = useHarness("webhooks-private");

beforeAll(async () => {
  // OTP_WEBHOOK_ALLOW_PRIVATE is false by default: the recording provider, on 127.0.0.1, is off limits.
  await h.start({ DISPATCHER_CHANNELS: "webhook" });
});

describe("receivers on private addresses are refused at send (OTP_WEBHOOK_ALLOW_PRIVATE=false)", () => {
  it.each([
    ["a loopback address", (port: number) => `http://127.0.0.1:${port}/hooks/literal?token=s3cret`],
    ["an IPv6 loopback address", (port: number) => `http://[::1]:${port}/hooks/v6`],
    ["a name that resolves to loopback", (port: number) => `http://localhost:${port}/hooks/name`],
  ])("%s: nothing is sent, the webhook is dead-lettered without its URL", async (_, url) => {
    await h.pool.query("DELETE FROM webhook");
    await subscribe(h, url(h.provider.port));
    const event = await h.createOtp({ channel: "sms", target: "77011234571" });
    expect(await emit(h, "otp.created", event.otp_id)).toBe(1);
    const [message] = await relayWebhooks(h);
    await expect
      .poll(async () => (await listDeadLetters(await h.amqp(), h.t)).find((l) => l.id === message?.id))
      .toMatchObject({ channel: WEBHOOK_ROUTE, reason: "rejected", lastError: REFUSED_ADDRESS, attempts: 1 });
    expect(h.provider.requests()).toEqual([]);
  });
});
