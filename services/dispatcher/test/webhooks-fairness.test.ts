import { createLogger, WEBHOOK_ROUTE } from "@otp/contracts";
import { metricValue } from "@otp/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../src/dispatcher.js";
import { TEST_TIERS, useHarness } from "./support/harness.js";
import { emit, relayWebhooks, subscribe } from "./support/webhooks.js";

/**
 * A receiver that hangs until the timeout holds at most a quarter of a dispatcher's webhook
 * prefetch (docs/webhooks.md, "Its own queue"): the other subscriptions' webhooks go on beside it.
 */
const h = useHarness("webhooks-fairness");
let d: Dispatcher;

/** The dispatcher's log lines, debug ones included: how long each deferred webhook was put back for. */
const logged: Record<string, unknown>[] = [];
const log = createLogger("otp-dispatcher", "debug", {
  write: (line: string) => {
    logged.push(JSON.parse(line) as Record<string, unknown>);
  },
});

beforeAll(async () => {
  d = await h.start(
    {
      OTP_DELIVERY_MODE: "direct",
      DISPATCHER_CHANNELS: "webhook",
      DISPATCHER_PREFETCH: "8", // two slots per subscription
      OTP_WEBHOOK_ALLOW_PRIVATE: "true", // the recording provider listens on 127.0.0.1
      OTP_WEBHOOK_TIMEOUT: "1",
      OTP_WEBHOOK_MAX_AGE: "60",
    },
    { log },
  );
});

describe("one subscription's slow receiver", () => {
  it("holds two of eight slots; the other subscription's webhooks all arrive meanwhile", async () => {
    h.provider.addRule({ path: "/hooks/slow", action: "hang" });
    await subscribe(h, `${h.provider.url}/hooks/slow`);
    await subscribe(h, `${h.provider.url}/hooks/fast`);
    for (let i = 0; i < 30; i++) {
      const event = await h.createOtp({ channel: "sms", target: "77011234567", message: "code {password}" });
      expect(await emit(h, "otp.created", event.otp_id)).toBe(2);
    }
    let mostHeld = 0;
    const watch = setInterval(() => {
      mostHeld = Math.max(mostHeld, h.provider.heldCount);
    }, 10);
    try {
      expect(await relayWebhooks(h)).toHaveLength(60);
      // Each slow attempt waits the whole second; 30 of them at a time of eight slots would keep
      // the fast ones waiting about four seconds. Two at a time, the fast ones pass at once.
      const fast = await h.provider.waitForRequests(30, { path: "/hooks/fast", timeoutMs: 3_000 });
      expect(new Set(fast.map((r) => r.headers["webhook-id"])).size).toBe(30);
      expect(h.provider.requests({ path: "/hooks/slow" }).length).toBeLessThan(30);
    } finally {
      clearInterval(watch);
    }
    expect(mostHeld).toBeLessThanOrEqual(2);
    expect(mostHeld).toBeGreaterThan(0);
    const deferred = metricValue(await d.metrics.registry.metrics(), "deliveries_total", {
      channel: WEBHOOK_ROUTE,
      outcome: "deferred",
    });
    expect(deferred).toBeGreaterThan(0);
  });
});

describe("a webhook that keeps finding its subscription's slots taken", () => {
  it("is put back for longer each time in a row, its count carried through the delay queue", async () => {
    await h.pool.query("DELETE FROM webhook");
    h.provider.addRule({ path: "/hooks/held", action: "hang" });
    await subscribe(h, `${h.provider.url}/hooks/held`);
    for (let i = 0; i < 6; i++) {
      const event = await h.createOtp({ channel: "sms", target: "77011234568", message: "code {password}" });
      expect(await emit(h, "otp.created", event.otp_id)).toBe(1);
    }
    const ids = new Set((await relayWebhooks(h)).map((m) => m.id));
    const deferred = () =>
      logged.filter(
        (l) => l.msg === "webhook deferred: its subscription's slots are taken" && ids.has(String(l.webhook)),
      );
    // Two attempts hold the two slots for the timeout's second: the other four come back three
    // times meanwhile, each after a longer wait (the 200 ms tier, then 400, then 800).
    await expect.poll(() => deferred().some((l) => Number(l.deferrals) >= 3), { timeout: 5_000 }).toBe(true);
    for (const l of deferred()) {
      const step = Math.min(Number(l.deferrals), TEST_TIERS.length);
      expect([l.deferrals, l.retryInMs]).toEqual([l.deferrals, TEST_TIERS[step - 1]]);
    }
  });
});
