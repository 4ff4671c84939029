import { randomUUID } from "node:crypto";
import { createSigner, newWebhookSecret, WEBHOOK_ROUTE } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import { RetryPolicy } from "../decide/retry-policy.js";
import type { WorkMessage } from "../message/work-message.js";
import type { AttemptResult } from "../transports/index.js";
import { FIRST_TRIED_HEADER, handleWebhook, REPLAYED_AT_HEADER, type WebhookHandlerDeps } from "./handle-webhook.js";
import { createWebhookSender, REFUSED_ADDRESS, type WebhookRequest } from "./sender.js";
import { SubscriptionSlots } from "./slots.js";

const EVENT_AT = Date.parse("2026-12-01T10:00:00.000Z");
const MINUTE = 60_000;

function work(headers: Record<string, unknown> = {}, content?: unknown): WorkMessage {
  const message = content ?? {
    v: 1,
    id: `msg_${randomUUID()}`,
    subscription_id: randomUUID(),
    otp_id: randomUUID(),
    type: "otp.created",
    // Keys in an order of their own: the body keeps it.
    payload: {
      data: { otp_id: "x", target: "7701*****67" },
      type: "otp.created",
      timestamp: "2026-12-01T10:00:00.000Z",
    },
  };
  return { queueChannel: WEBHOOK_ROUTE, content: Buffer.from(JSON.stringify(message)), messageId: "m", headers };
}

/** A handler at `now` whose receiver answers `answer`; records what was sent. */
function deps(now: number, answer: AttemptResult, subscribed = true, slots = new SubscriptionSlots(2)) {
  const sent: WebhookRequest[] = [];
  const d: WebhookHandlerDeps = {
    subscription: async () =>
      subscribed ? { url: "https://hooks.example/x", signer: createSigner(newWebhookSecret()) } : undefined,
    sender: {
      send: async (request) => {
        sent.push(request);
        return answer;
      },
    },
    policy: new RetryPolicy({
      maxAttempts: Number.MAX_SAFE_INTEGER,
      tiersMs: [1_000, 2_000, 4_000],
      random: () => 0.5,
    }),
    maxAgeMs: 10 * MINUTE,
    now: () => now,
    deliveryLimit: 20,
    observeAttempt: () => {},
    slots,
  };
  return { d, sent };
}

const failing: AttemptResult = { ok: false, transient: true, status: 503, error: "HTTP 503" };
const signal = new AbortController().signal;

describe("handleWebhook", () => {
  it("sends the payload as published, signed with the message's id", async () => {
    const { d, sent } = deps(EVENT_AT, { ok: true, status: 204 });
    const w = work();
    const message = JSON.parse(w.content.toString()) as { id: string; payload: unknown };
    expect(await handleWebhook(d, w, signal)).toMatchObject({ kind: "delivered", attempt: 1 });
    expect(sent[0]?.body).toBe(JSON.stringify(message.payload));
    expect(sent[0]?.headers["webhook-id"]).toBe(message.id);
    expect(sent[0]?.headers["webhook-timestamp"]).toBe(String(EVENT_AT / 1000));
  });

  it("retries a failure while its window lasts, then dead-letters it as exhausted", async () => {
    const early = deps(EVENT_AT + MINUTE, failing);
    expect(await handleWebhook(early.d, work({ "x-otp-attempt": 2 }), signal)).toMatchObject({
      kind: "retry",
      attempt: 2,
      delayMs: 2_000,
    });
    const late = deps(EVENT_AT + 10 * MINUTE - 500, failing);
    expect(await handleWebhook(late.d, work({ "x-otp-attempt": 40 }), signal)).toMatchObject({
      kind: "dead",
      reason: "exhausted",
      attempts: 40,
    });
  });

  it("a replay starts the window again", async () => {
    const { d } = deps(EVENT_AT + 60 * MINUTE, failing);
    const replayed = work({ [REPLAYED_AT_HEADER]: EVENT_AT + 59 * MINUTE, [FIRST_TRIED_HEADER]: EVENT_AT });
    expect(await handleWebhook(d, replayed, signal)).toMatchObject({ kind: "retry" });
    const retried = work({ "x-otp-attempt": 2, [FIRST_TRIED_HEADER]: EVENT_AT });
    expect(await handleWebhook(d, retried, signal)).toMatchObject({ kind: "dead", reason: "exhausted" });
  });

  it("an event first tried late (after an outage) gets its whole window from that first attempt", async () => {
    // The event is an hour old, past its 10 minutes, when the dispatcher first gets to it.
    const first = deps(EVENT_AT + 60 * MINUTE, { ...failing, status: 429, retryAfterMs: 4_000 });
    expect(await handleWebhook(first.d, work(), signal)).toMatchObject({
      kind: "retry",
      delayMs: 4_000,
      firstTriedAt: EVENT_AT + 60 * MINUTE,
    });
    // Its retries run from then, until that window ends too.
    const retried = work({ "x-otp-attempt": 2, [FIRST_TRIED_HEADER]: EVENT_AT + 60 * MINUTE });
    expect(await handleWebhook(deps(EVENT_AT + 65 * MINUTE, failing).d, retried, signal)).toMatchObject({
      kind: "retry",
    });
    expect(await handleWebhook(deps(EVENT_AT + 70 * MINUTE, failing).d, retried, signal)).toMatchObject({
      kind: "dead",
      reason: "exhausted",
    });
  });

  it("drops a webhook whose subscription is gone, without sending", async () => {
    const { d, sent } = deps(EVENT_AT, { ok: true }, false);
    expect(await handleWebhook(d, work(), signal)).toMatchObject({ kind: "dropped" });
    expect(sent).toEqual([]);
  });

  it("dead-letters an unknown version and a refused address at once", async () => {
    const { d } = deps(EVENT_AT, { ok: false, transient: false, error: REFUSED_ADDRESS });
    expect(await handleWebhook(d, work({}, { v: 2 }), signal)).toMatchObject({ reason: "unsupported_version" });
    expect(await handleWebhook(d, work(), signal)).toMatchObject({ kind: "dead", reason: "rejected", attempts: 1 });
  });
});

describe("the sender refuses non-public receivers (OTP_WEBHOOK_ALLOW_PRIVATE=false)", () => {
  const sender = createWebhookSender({ allowPrivate: false, timeoutMs: 1_000 });
  const request = (url: string): WebhookRequest => ({ url, body: "{}", headers: {} });

  it.each([
    "http://127.0.0.1:1/x",
    "http://10.1.2.3/x",
    "http://192.168.0.10/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:1/x",
    "http://[fd00::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://localhost:1/x",
  ])("%s", async (url) => {
    expect(await sender.send(request(url), signal)).toEqual({ ok: false, transient: false, error: REFUSED_ADDRESS });
  });

  it("defers a webhook, untried and with its attempt number, while its subscription's slots are taken", async () => {
    const slots = new SubscriptionSlots(1);
    const { d, sent } = deps(EVENT_AT, { ok: true, status: 204 }, true, slots);
    const message = work({ "x-otp-attempt": 3 });
    const subscription = JSON.parse(message.content.toString()).subscription_id as string;
    expect(slots.tryTake(subscription)).toBe(true); // an attempt to it in flight
    expect(await handleWebhook(d, message, signal)).toMatchObject({ kind: "deferred", attempt: 3, delayMs: 1_000 });
    expect(sent).toHaveLength(0);
    // Another subscription's webhook goes meanwhile.
    expect((await handleWebhook(d, work(), signal)).kind).toBe("delivered");
    slots.give(subscription);
    expect((await handleWebhook(d, message, signal)).kind).toBe("delivered");
    expect(sent).toHaveLength(2);
  });

  it("gives its slot back after the attempt, whatever its end", async () => {
    const slots = new SubscriptionSlots(1);
    const { d } = deps(EVENT_AT, failing, true, slots);
    const message = work();
    const subscription = JSON.parse(message.content.toString()).subscription_id as string;
    expect((await handleWebhook(d, message, signal)).kind).toBe("retry");
    const throwing = { ...d, sender: { send: async () => Promise.reject(new Error("socket")) } };
    await expect(handleWebhook(throwing, message, signal)).rejects.toThrow("socket");
    expect(slots.tryTake(subscription)).toBe(true);
  });
});

describe("SubscriptionSlots", () => {
  it("a quarter of the prefetch per subscription, at least one", () => {
    expect(SubscriptionSlots.forPrefetch(128).perSubscription).toBe(32);
    expect(SubscriptionSlots.forPrefetch(1).perSubscription).toBe(1);
    expect(() => new SubscriptionSlots(0)).toThrow();
  });
});
