import { setTimeout as sleep } from "node:timers/promises";
import type { DeliveryEvent, WebhookMessage } from "@otp/contracts";
import { beforeAll, describe, expect, it } from "vitest";
import { useHarness } from "./support/harness.js";
import { emit, relayWebhooks, subscribe, verifyWithSvix } from "./support/webhooks.js";

const h = useHarness("webhooks-outage");

/** How long the receiver is down, and how many webhooks wait for it meanwhile. */
const OUTAGE_MS = 60_000;
const WEBHOOKS = 50;
/** SMS sent per second throughout the outage. */
const SMS_PER_SECOND = 10;
/** Codes sent in the outage's last seconds may be delivered after it: only earlier ones are counted. */
const COUNTED_BEFORE_MS = OUTAGE_MS - 10_000;

beforeAll(async () => {
  await h.start({
    OTP_DELIVERY_MODE: "direct",
    DISPATCHER_CHANNELS: "sms,webhook",
    OTP_WEBHOOK_ALLOW_PRIVATE: "true",
    OTP_WEBHOOK_TIMEOUT: "1",
  });
});

describe("a webhook receiver down for a minute", () => {
  it("does not hold up OTP deliveries, and gets every webhook once it is back, with the same ids", async () => {
    const sub = await subscribe(h, `${h.provider.url}/hooks/down`, ["otp.created"]);
    // Down: every request fails slowly, the way a receiver behind a struggling proxy does.
    h.provider.addRule({ path: "/hooks/down", status: 503, delayMs: 300 });
    for (let i = 0; i < WEBHOOKS; i++) {
      const otp = await h.createOtp({ channel: "sms", target: `7701${String(9_000_000 + i)}` });
      await emit(h, "otp.created", otp.otp_id);
    }
    const webhooks = await relayWebhooks(h);
    expect(webhooks).toHaveLength(WEBHOOKS);

    const started = Date.now();
    const sent: { event: DeliveryEvent; at: number }[] = [];
    while (Date.now() - started < OUTAGE_MS) {
      const tick = Date.now();
      for (let i = 0; i < SMS_PER_SECOND; i++) {
        const target = `7701${String(1_000_000 + sent.length).padStart(7, "0")}`;
        sent.push({ event: await h.send({ channel: "sms", target, message: "code {password}" }), at: Date.now() });
      }
      await sleep(Math.max(0, 1_000 - (Date.now() - tick)));
    }
    const outageEnded = Date.now();
    const failedDuring = h.provider.requests({ path: "/hooks/down" }).length;
    const smsDuring = h.provider.requests({ path: "/smsvc" }).filter((r) => r.receivedAt < outageEnded);
    h.provider.clearRules();

    // The codes kept flowing: every one sent in the outage's first 50 s reached the SMS provider
    // before the outage ended (a shared queue would have them stuck behind 50 failing webhooks).
    const counted = sent.filter((s) => s.at - started < COUNTED_BEFORE_MS);
    const deliveredDuring = new Set(smsDuring.map((r) => r.headers["idempotency-key"]));
    const late = counted.filter((s) => !deliveredDuring.has(s.event.id));
    const seconds = (outageEnded - started) / 1000;
    console.log(
      `outage ${seconds.toFixed(1)} s: ${sent.length} SMS sent, ${smsDuring.length} delivered during it ` +
        `(${(smsDuring.length / seconds).toFixed(1)}/s); ${failedDuring} failed webhook attempts meanwhile`,
    );
    expect(late.map((s) => s.event.id)).toEqual([]);
    expect(failedDuring).toBeGreaterThanOrEqual(WEBHOOKS);

    // And once it is back, every webhook arrives, with the id and the body of its first attempt.
    await expect.poll(() => delivered().size, { timeout: 30_000, interval: 500 }).toBe(WEBHOOKS);
    for (const message of webhooks) checkDelivered(message, sub.secret);
  });
});

/** The webhook-ids the receiver answered 2xx. */
function delivered(): Set<string> {
  const ok = h.provider.requests({ path: "/hooks/down" }).filter((r) => r.answer === 200);
  return new Set(ok.map((r) => r.headers["webhook-id"] ?? ""));
}

function checkDelivered(message: WebhookMessage, secret: string): void {
  const attempts = h.provider.requests({ path: "/hooks/down" }).filter((r) => r.headers["webhook-id"] === message.id);
  expect(attempts.length).toBeGreaterThanOrEqual(2);
  expect(attempts.at(-1)?.answer).toBe(200);
  expect(new Set(attempts.map((r) => r.body)).size).toBe(1);
  expect(verifyWithSvix(secret, attempts.at(-1) as (typeof attempts)[number])).toEqual(message.payload);
}
