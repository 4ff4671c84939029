import type { WebhookMessage } from "@otp/contracts";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { StatusStore } from "../src/status/status-store.js";
import { useHarness } from "./support/harness.js";
import { MAX_FAILURES, outboxWebhooks, subscribe } from "./support/webhooks.js";

const h = useHarness("webhooks-events");
let store: StatusStore;

beforeAll(() => {
  store = new StatusStore(h.pool, h.pgConfig().schema, MAX_FAILURES);
});

beforeEach(async () => {
  await h.pool.query("DELETE FROM webhook");
  await h.pool.query("DELETE FROM outbox");
});

const otp = async () => (await h.createOtp({ channel: "sms", target: "77011234572" })).otp_id;
const eventsOf = async (otpId: string): Promise<WebhookMessage[]> =>
  (await outboxWebhooks(h)).filter((m) => m.otp_id === otpId);

describe("the status write emits otp.delivered and otp.delivery_failed in its own transaction", () => {
  it("one outbox row per matching subscription, the first time a code is delivered, never again", async () => {
    const all = await subscribe(h, "https://a.example/hook");
    const delivered = await subscribe(h, "https://b.example/hook", ["otp.delivered"]);
    await subscribe(h, "https://c.example/hook", ["otp.verified"]);
    const id = await otp();

    await store.record(id, { status: "pending", attempted: true, error: "HTTP 503" });
    expect(await eventsOf(id)).toEqual([]);
    await store.record(id, { status: "delivered", attempted: true, error: null });
    const events = await eventsOf(id);
    expect(events.map((e) => e.subscription_id).sort()).toEqual([all.id, delivered.id].sort());
    for (const e of events) {
      expect(e.type).toBe("otp.delivered");
      expect(e.payload.data).toMatchObject({
        otp_id: id,
        target: "7701*****72",
        delivery: { status: "delivered", attempts: 2 },
        verification: { status: "pending", attempts_left: MAX_FAILURES },
      });
      expect((e.payload.data.delivery as { delivered_at: string | null }).delivered_at).not.toBeNull();
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(2);

    // A duplicate delivery, a late failure: the status does not change, nothing is emitted.
    await store.record(id, { status: "delivered", attempted: true, error: null });
    await store.record(id, { status: "failed", attempted: true, error: "rejected: HTTP 400" });
    expect(await eventsOf(id)).toHaveLength(2);
  });

  it("a delivery failed for good emits otp.delivery_failed once; expired and canceled emit nothing", async () => {
    const sub = await subscribe(h, "https://a.example/hook");
    const [failed, expired, canceled] = [await otp(), await otp(), await otp()];
    await Promise.all([
      store.record(failed, { status: "failed", attempted: true, error: "exhausted: HTTP 503" }),
      store.record(expired, { status: "expired", attempted: false, error: null }),
      store.record(canceled, { status: "canceled", attempted: false, error: null }),
    ]);
    await store.record(failed, { status: "failed", attempted: false, error: "poison: again" });
    expect(await eventsOf(failed)).toMatchObject([
      {
        subscription_id: sub.id,
        type: "otp.delivery_failed",
        payload: { type: "otp.delivery_failed", data: { delivery: { status: "failed", attempts: 1 } } },
      },
    ]);
    expect(await eventsOf(expired)).toEqual([]);
    expect(await eventsOf(canceled)).toEqual([]);
  });

  it("without a subscription, a status write writes no outbox row", async () => {
    const id = await otp();
    await store.record(id, { status: "delivered", attempted: true, error: null });
    expect((await h.pool.query("SELECT count(*)::int AS n FROM outbox")).rows[0].n).toBe(0);
    expect(await h.status(id)).toBe("delivered");
  });

  it("concurrent duplicates of one delivery emit one event between them", async () => {
    await subscribe(h, "https://a.example/hook");
    const ids = await Promise.all(Array.from({ length: 20 }, () => otp()));
    // Two stores: two dispatchers, each with its own batches, racing on the same rows.
    const other = new StatusStore(h.pool, h.pgConfig().schema, MAX_FAILURES);
    await Promise.all(
      ids.flatMap((id) => [
        store.record(id, { status: "delivered", attempted: true, error: null }),
        other.record(id, { status: "delivered", attempted: true, error: null }),
      ]),
    );
    const events = await outboxWebhooks(h);
    expect(
      events
        .filter((e) => e.type === "otp.delivered")
        .map((e) => e.otp_id)
        .sort(),
    ).toEqual([...ids].sort());
  });
});
