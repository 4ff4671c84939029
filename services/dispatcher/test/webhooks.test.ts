import { fileURLToPath } from "node:url";
import { WEBHOOK_ROUTE } from "@otp/contracts";
import { metricValue, runNode } from "@otp/testkit";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Dispatcher } from "../src/dispatcher.js";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { DISPATCHER_DIR } from "./support/child.js";
import { useHarness } from "./support/harness.js";
import { emit, expectedSignature, relayWebhooks, subscribe, verifyWithSvix } from "./support/webhooks.js";

const h = useHarness("webhooks");
const CLI = fileURLToPath(new URL("../src/dlq/cli.ts", import.meta.url));
let d: Dispatcher;

beforeAll(async () => {
  // Tiers 200 … 3200 ms with the nominal jitter; a webhook is retried for 3 s after its event.
  d = await h.start({
    OTP_DELIVERY_MODE: "direct",
    DISPATCHER_CHANNELS: "sms,webhook",
    OTP_WEBHOOK_ALLOW_PRIVATE: "true", // the recording provider listens on 127.0.0.1
    OTP_WEBHOOK_MAX_AGE: "3",
    OTP_WEBHOOK_TIMEOUT: "1",
  });
});

// Each test subscribes afresh: an event fans out to every subscription there is.
beforeEach(async () => {
  await h.pool.query("DELETE FROM webhook");
  await h.pool.query("DELETE FROM outbox WHERE channel = $1", [WEBHOOK_ROUTE]);
  h.provider.reset();
});

const counted = async (outcome: string, channel = WEBHOOK_ROUTE) =>
  metricValue(await d.metrics.registry.metrics(), "deliveries_total", { channel, outcome });

/** An OTP row, a subscription at `path` of the recording provider, and one event about it, published. */
async function oneWebhook(path: string, type = "otp.created") {
  const sub = await subscribe(h, `${h.provider.url}${path}?token=s3cret`);
  const event = await h.createOtp({ channel: "sms", target: "77011234567", message: "code {password}" });
  expect(await emit(h, type, event.otp_id)).toBe(1);
  const [message] = await relayWebhooks(h);
  if (!message) throw new Error("no webhook in the outbox");
  return { sub, event, message };
}

describe("webhook delivery", () => {
  it("POSTs the payload as JSON with the Standard Webhooks headers, verified by svix and by hand", async () => {
    const { sub, event, message } = await oneWebhook("/hooks/ok");
    const [request] = await h.provider.waitForRequests(1, { path: "/hooks/ok" });
    if (!request) throw new Error("no request");

    expect(request.method).toBe("POST");
    expect(request.query).toBe("?token=s3cret");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["webhook-id"]).toBe(message.id);
    expect(Math.abs(Number(request.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(30);
    expect(request.headers["webhook-signature"]).toBe(expectedSignature(sub.secret, request));
    expect(verifyWithSvix(sub.secret, request)).toEqual(message.payload);
    expect(request.headers["idempotency-key"]).toBeUndefined();
    // The body is the payload: the event about the OTP, its target masked.
    expect(request.json).toMatchObject({
      type: "otp.created",
      data: { otp_id: event.otp_id, channel: "sms", target: "7701*****67" },
    });
    expect(request.body).not.toContain("77011234567");
    await expect.poll(() => counted("delivered")).toBe(1);
  });

  it("a failing receiver gets retries (5xx, 4xx, a cut connection) with the same webhook-id and body", async () => {
    h.provider.failNext(1, 503, { path: "/hooks/flaky" });
    h.provider.failNext(1, 400, { path: "/hooks/flaky" });
    h.provider.addRule({ path: "/hooks/flaky", action: "reset", times: 1 });
    const { sub, message } = await oneWebhook("/hooks/flaky");
    const requests = await h.provider.waitForRequests(4, { path: "/hooks/flaky" });

    expect(requests.map((r) => r.answer)).toEqual([503, 400, "reset", 200]);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([message.id]));
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const r of requests) expect(verifyWithSvix(sub.secret, r)).toEqual(message.payload);
  });

  it("after OTP_WEBHOOK_MAX_AGE of failures it is dead-lettered; dlq list shows it, dlq replay delivers it", async () => {
    h.provider.addRule({ path: "/hooks/down", status: 500, body: "down for maintenance" });
    const { message } = await oneWebhook("/hooks/down");
    await expect
      .poll(async () => (await listDeadLetters(await h.amqp(), h.t)).find((l) => l.id === message.id), {
        timeout: 20_000,
      })
      .toMatchObject({ channel: "webhook", reason: "exhausted", otpId: message.otp_id });
    const tries = h.provider.requests({ path: "/hooks/down" });
    expect(tries.length).toBeGreaterThanOrEqual(4);
    expect(new Set(tries.map((r) => r.headers["webhook-id"]))).toEqual(new Set([message.id]));

    const list = await runNode({ name: "dlq", entry: CLI, args: ["list"], cwd: DISPATCHER_DIR, env: h.env() });
    const line = list.stdout.split("\n").find((l) => l.startsWith(message.id)) ?? "";
    expect(line).toMatch(/\bwebhook\b.*\bexhausted\b.*HTTP 500/);
    // Neither the receiver's URL (its query string) nor the payload nor the answer is in the letter.
    expect(list.stdout).not.toMatch(/s3cret|hooks\/down|maintenance|7701\*/);

    h.provider.clearRules();
    const replay = await runNode({
      name: "dlq",
      entry: CLI,
      args: ["replay", "--id", message.id],
      cwd: DISPATCHER_DIR,
      env: h.env(),
    });
    expect(replay.stdout).toContain(`replayed ${message.id}`);
    await expect
      .poll(() => h.provider.requests({ path: "/hooks/down" }).filter((r) => r.answer === 200).length)
      .toBe(1);
    const delivered = h.provider.requests({ path: "/hooks/down" }).at(-1);
    expect(delivered?.headers["webhook-id"]).toBe(message.id);
    expect(delivered?.body).toBe(tries[0]?.body);
  });

  it("a deleted subscription's message is dropped: acked, counted, not sent", async () => {
    const sub = await subscribe(h, `${h.provider.url}/hooks/gone`);
    const event = await h.createOtp({ channel: "sms", target: "77011234568" });
    await emit(h, "otp.created", event.otp_id);
    await h.pool.query("DELETE FROM webhook WHERE id = $1", [sub.id]);
    const before = await counted("dropped");
    await relayWebhooks(h);
    await expect.poll(() => counted("dropped")).toBe(before + 1);
    expect(h.provider.requests({ path: "/hooks/gone" })).toEqual([]);
    expect(await h.messageCount(h.t.workQueue(WEBHOOK_ROUTE))).toBe(0);
  });

  it("a message of an unknown version is dead-lettered, as delivery events are", async () => {
    const id = "msg_00000000-0000-4000-8000-000000000001";
    await h.publish({ channel: WEBHOOK_ROUTE, raw: Buffer.from(JSON.stringify({ v: 2, id })), id });
    await expect
      .poll(async () => (await listDeadLetters(await h.amqp(), h.t)).find((l) => l.id === id))
      .toMatchObject({ channel: "webhook", reason: "unsupported_version" });
  });
});

describe("the dispatcher's own events", () => {
  it("an SMS delivered emits otp.delivered, with the delivery in its data", async () => {
    const sub = await subscribe(h, `${h.provider.url}/hooks/delivered`, ["otp.delivered"]);
    const event = await h.send({ channel: "sms", target: "77011234569", message: "code {password}" });
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    const [message] = await relayWebhooks(h);
    expect(message).toMatchObject({ subscription_id: sub.id, otp_id: event.otp_id, type: "otp.delivered" });
    const [request] = await h.provider.waitForRequests(1, { path: "/hooks/delivered" });
    expect(request?.json).toMatchObject({
      type: "otp.delivered",
      data: { otp_id: event.otp_id, delivery: { status: "delivered", attempts: 1 } },
    });
  });

  it("a canceled code's delivery is dropped: nothing sent, status canceled, counted", async () => {
    const before = await counted("canceled", "sms");
    const event = await h.createOtp({ channel: "sms", target: "77011234570", message: "code {password}" });
    await h.pool.query("UPDATE otp SET closed_at = now(), closed_reason = 'canceled' WHERE id = $1", [event.otp_id]);
    await h.publish(event);
    await expect.poll(() => h.status(event.otp_id)).toBe("canceled");
    expect(await counted("canceled", "sms")).toBe(before + 1);
    expect(h.provider.requests({ path: "/smsvc" }).filter((r) => r.body.includes("77011234570"))).toEqual([]);
    expect((await h.row(event.otp_id)).attempts).toBe(0);
  });

  it.each([
    ["superseded by a resend", "UPDATE otp SET closed_at = now(), closed_reason = 'superseded' WHERE id = $1"],
    [
      "consumed by a sibling's use",
      "UPDATE otp SET closed_at = now(), closed_reason = 'sibling_consumed' WHERE id = $1",
    ],
    ["dead of its wrong checks", "UPDATE otp SET failed_checks = 5 WHERE id = $1"],
  ])("the delivery of a code %s is dropped too: it could no longer be verified", async (_, close) => {
    const target = `7701${String(Math.floor(Math.random() * 9_000_000) + 1_000_000)}`;
    const event = await h.createOtp({ channel: "sms", target, message: "code {password}" });
    await h.pool.query(close, [event.otp_id]);
    await h.publish(event);
    await expect.poll(() => h.status(event.otp_id)).toBe("canceled");
    expect(h.provider.requests({ path: "/smsvc" }).filter((r) => r.body.includes(target))).toEqual([]);
    expect((await h.row(event.otp_id)).attempts).toBe(0);
  });

  it("the delivery of a code with four wrong checks, still live, is sent", async () => {
    const event = await h.createOtp({ channel: "sms", target: "77011234571", message: "code {password}" });
    await h.pool.query("UPDATE otp SET failed_checks = 4 WHERE id = $1", [event.otp_id]);
    await h.publish(event);
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
  });
});
