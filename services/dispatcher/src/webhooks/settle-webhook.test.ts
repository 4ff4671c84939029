import { randomUUID } from "node:crypto";
import { type ConfirmPublisher, RETRY_DELAYS_MS, topology } from "@otp/broker";
import { createLogger, createSigner, newWebhookSecret, WEBHOOK_ROUTE } from "@otp/contracts";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RetryPolicy } from "../decide/retry-policy.js";
import type { Headers } from "../message/headers.js";
import type { WorkMessage } from "../message/work-message.js";
import { createMetrics } from "../ops/metrics.js";
import type { DelayQueues } from "../settle/delay-queues.js";
import type { SettleDeps } from "../settle/settle.js";
import type { StatusStore } from "../status/status-store.js";
import type { AttemptResult } from "../transports/index.js";
import { FIRST_TRIED_HEADER, handleWebhook, type WebhookHandlerDeps } from "./handle-webhook.js";
import { REFUSED_ADDRESS } from "./sender.js";
import { settleWebhook } from "./settle-webhook.js";
import { SubscriptionSlots } from "./slots.js";

const signal = new AbortController().signal;
const message = {
  v: 1,
  id: `msg_${randomUUID()}`,
  subscription_id: randomUUID(),
  otp_id: randomUUID(),
  type: "otp.verified",
  payload: { type: "otp.verified", timestamp: new Date().toISOString(), data: { target: "7701*****67" } },
};
const outboxRowId = randomUUID();
const work = (headers: Headers = {}): WorkMessage => ({
  queueChannel: WEBHOOK_ROUTE,
  content: Buffer.from(JSON.stringify(message)),
  messageId: outboxRowId,
  headers,
});

/** A copy the settling published: to which queue, with which headers. */
interface Copy {
  readonly queue: string;
  readonly headers: Headers;
}

/**
 * The handler and the settling as the webhooks' pipeline runs them, the broker and the receiver
 * stood in for: each copy published and each log line written is kept. `full` takes every slot of
 * the message's subscription first, as attempts in flight to a slow receiver would.
 */
function webhookPath(options: { tiersMs: readonly number[]; answer?: AttemptResult; full?: boolean }) {
  const copies: Copy[] = [];
  const lines: Record<string, unknown>[] = [];
  const slots = new SubscriptionSlots(1);
  if (options.full) slots.tryTake(message.subscription_id);
  const handler: WebhookHandlerDeps = {
    subscription: async () => ({ url: "https://hooks.example/x", signer: createSigner(newWebhookSecret()) }),
    sender: { send: async () => options.answer ?? { ok: true, status: 204 } },
    policy: new RetryPolicy({ maxAttempts: Number.MAX_SAFE_INTEGER, tiersMs: options.tiersMs, random: () => 0.5 }),
    maxAgeMs: 86_400_000,
    now: Date.now,
    deliveryLimit: 20,
    observeAttempt: () => {},
    slots,
  };
  const settling: SettleDeps = {
    store: {} as StatusStore, // a webhook has no OTP status to write
    publisher: {
      publish: async (_exchange: string, queue: string, _content: Buffer, o: { headers: Headers }) => {
        copies.push({ queue, headers: o.headers });
      },
    } as unknown as ConfirmPublisher,
    topology: topology("settle-webhook-unit"),
    delayQueues: {
      ensure: async (_: string, ms: number) => `delay.${ms}ms`,
      forget: () => {},
    } as unknown as DelayQueues,
    metrics: createMetrics(new Registry()),
    log: createLogger("otp-dispatcher", "debug", { write: (line: string) => lines.push(JSON.parse(line)) }),
    now: Date.now,
  };
  /** One message through the handler and the settling; resolves with the copy it left, if any. */
  const run = async (w: WorkMessage): Promise<Copy | undefined> => {
    const before = copies.length;
    await settleWebhook(settling, await handleWebhook(handler, w, signal), w, signal);
    return copies.length > before ? copies.at(-1) : undefined;
  };
  return { run, lines, slots };
}

describe("a webhook whose subscription's slots are taken", () => {
  it("is put back untried for longer each time in a row: 1 s, 2 s, 4 s … on the delay queues' ladder", async () => {
    const { run, lines, slots } = webhookPath({
      tiersMs: RETRY_DELAYS_MS,
      full: true,
      answer: { ok: false, transient: true, error: "timeout after 10000 ms" },
    });
    const waits: [unknown, string][] = [];
    let w = work({ "x-otp-attempt": 3, "x-otp-last-error": "HTTP 503" });
    for (let i = 0; i < 8; i++) {
      const copy = await run(w);
      if (!copy) throw new Error("no copy put back");
      waits.push([copy.headers["x-otp-deferrals"], copy.queue]);
      // Its attempt and last error stay as they were: it was not tried.
      expect(copy.headers).toMatchObject({ "x-otp-attempt": 3, "x-otp-last-error": "HTTP 503" });
      // What the delay queue hands back to the work queue: the copy's headers.
      w = work(copy.headers);
    }
    expect(waits).toEqual([
      [1, "delay.1000ms"],
      [2, "delay.2000ms"],
      [3, "delay.4000ms"],
      [4, "delay.8000ms"],
      [5, "delay.16000ms"],
      [6, "delay.32000ms"],
      [7, "delay.32000ms"], // capped: a freed slot is found within about half a minute
      [8, "delay.32000ms"],
    ]);
    const deferred = lines.filter((l) => l.msg === "webhook deferred: its subscription's slots are taken");
    expect(deferred.map((l) => [l.deferrals, l.retryInMs])).toEqual(
      waits.map(([n, queue]) => [n, Number(queue.replace(/\D/g, ""))]),
    );

    // A slot frees: it is tried (and fails), and its retry starts a new run of deferrals.
    slots.give(message.subscription_id);
    const retry = await run(w);
    expect(retry?.headers).toMatchObject({ "x-otp-attempt": 4, "x-otp-last-error": "timeout after 10000 ms" });
    expect(retry?.headers).not.toHaveProperty("x-otp-deferrals");
    slots.tryTake(message.subscription_id);
    expect((await run(work(retry?.headers)))?.queue).toBe("delay.1000ms");
  });
});

describe("a dead-lettered webhook's log line", () => {
  it("names the webhook, its subscription, OTP and event type, as every webhook line does", async () => {
    const { run, lines } = webhookPath({
      tiersMs: [1_000],
      answer: { ok: false, transient: false, error: REFUSED_ADDRESS },
    });
    expect((await run(work()))?.queue).toBe(topology("settle-webhook-unit").deadQueue);
    const line = lines.find((l) => l.msg === "dead-lettered");
    expect(line).toMatchObject({
      webhook: message.id,
      subscription: message.subscription_id,
      otp: message.otp_id,
      type: "otp.verified",
      reason: "rejected",
      error: REFUSED_ADDRESS,
    });
    expect(line).not.toHaveProperty("event"); // the outbox row's id, which no receiver knows
    // Nothing of the receiver's URL or the payload.
    expect(JSON.stringify(lines)).not.toMatch(/hooks\.example|7701/);
  });
});

describe("a webhook's retry window", () => {
  it("runs from its first attempt: the retry copy carries when that was, through deferrals and retries", async () => {
    const { run, slots } = webhookPath({
      tiersMs: [1_000],
      answer: { ok: false, transient: true, error: "HTTP 503" },
    });
    const before = Date.now();
    const retry = await run(work());
    const firstTried = Number(retry?.headers[FIRST_TRIED_HEADER]);
    expect(firstTried).toBeGreaterThanOrEqual(before);
    // Put back untried (its slot taken), and tried and failed again: still the first attempt's time.
    slots.tryTake(message.subscription_id);
    const deferred = await run(work(retry?.headers));
    expect(deferred?.headers[FIRST_TRIED_HEADER]).toBe(firstTried);
    slots.give(message.subscription_id);
    expect((await run(work(deferred?.headers)))?.headers[FIRST_TRIED_HEADER]).toBe(firstTried);
  });
});
