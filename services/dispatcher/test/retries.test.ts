import { assertDelayQueue } from "@otp/broker";
import { createLogger } from "@otp/contracts";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { TEST_TIERS, until, useHarness } from "./support/harness.js";

const h = useHarness("retries");

/** The dispatcher's log lines: which delay each retry was scheduled with, whatever the timing. */
const logged: Record<string, unknown>[] = [];
const log = createLogger("otp-dispatcher", "info", {
  write: (line: string) => {
    logged.push(JSON.parse(line) as Record<string, unknown>);
  },
});

beforeAll(async () => {
  // Tiers 200, 400, 800, 1600, 3200 ms; deterministic jitter (random = 0.5 → the nominal tier).
  // sms only: a test that needs other settings starts its own dispatcher, alone on another channel.
  await h.start(
    {
      OTP_DELIVERY_MODE: "direct",
      OTP_DELIVERY_MAX_ATTEMPTS: "20",
      OTP_DELIVERY_TIMEOUT: "0.5",
      DISPATCHER_CHANNELS: "sms",
    },
    { log },
  );
  // A delay queue is declared on its first use, which takes a quorum queue ~0.2 s; declare the sms
  // ones now so that the measured gaps are the tiers' alone.
  const ch = await (await h.amqp()).createChannel();
  for (const ms of TEST_TIERS) await assertDelayQueue(ch, h.t, "sms", ms);
  await ch.close();
  // And pay the other first-use costs (pool connections, the first retry publish) before measuring.
  h.provider.failNext(1, 503);
  const warmUp = await sms();
  await until(async () => (await h.status(warmUp.otp_id)) === "delivered");
  h.provider.reset();
});

beforeEach(() => {
  h.provider.reset();
});

const sms = (lifetimeMs?: number) =>
  h.send({
    channel: "sms",
    target: "77010000001",
    message: "code {password}",
    ...(lifetimeMs !== undefined ? { lifetimeMs } : {}),
  });

/** How many consumers a queue has right now. */
async function consumers(queue: string): Promise<number> {
  const ch = await (await h.amqp()).createChannel();
  try {
    return (await ch.checkQueue(queue)).consumerCount;
  } finally {
    await ch.close().catch(() => {});
  }
}

async function deadLetter(id: string) {
  return (await listDeadLetters(await h.amqp(), h.t)).find((l) => l.id === id);
}

describe("transient failures", () => {
  it("a provider failing twice then succeeding: one delivery after three attempts, one key, growing delays", async () => {
    h.provider.failNext(2, 503);
    const event = await sms();
    const requests = await h.provider.waitForRequests(3);
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");

    expect(requests.map((r) => r.answer)).toEqual([503, 503, 200]);
    expect(new Set(requests.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([event.id]));
    // The delays grow: each retry goes to a longer delay queue. Read from what the dispatcher
    // scheduled, not from the gaps between requests, which a loaded machine stretches at random.
    const scheduled = logged
      .filter((l) => l.msg === "attempt failed; retry scheduled" && l.event === event.id)
      .map((l) => [l.attempt, l.retryInMs]);
    expect(scheduled).toEqual([
      [1, 200],
      [2, 400],
    ]);
    // And each was waited out: a delay queue never hands a message back before its TTL (a lower
    // bound only, which load cannot break).
    const [a, b, c] = requests.map((r) => r.receivedAt) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(190); // the 200 ms tier
    expect(c - b).toBeGreaterThanOrEqual(390); // the 400 ms tier
    const row = await h.row(event.otp_id);
    expect(row).toMatchObject({ status: "delivered", attempts: 3, lastError: 'HTTP 503: {"status":false}' });
    expect(row.deliveredAt).toBeInstanceOf(Date);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.provider.requests()).toHaveLength(3); // delivered once, nothing after
  });

  it("network errors, timeouts, 408 and 429 are retried too", async () => {
    h.provider
      .addRule({ action: "reset", times: 1 })
      .addRule({ action: "hang", times: 1 })
      .failNext(1, 408)
      .failNext(1, 429);
    const event = await sms();
    await h.provider.waitForRequests(5, { timeoutMs: 15_000 });
    await expect.poll(() => h.status(event.otp_id), { timeout: 5_000 }).toBe("delivered");
    expect((await h.row(event.otp_id)).attempts).toBe(5);
    h.provider.release();
  });

  it("never leaks the code or the message into the stored error", async () => {
    h.provider.failNext(1, 500, { body: "provider refused: code 777123 in message 'hello 777123'" });
    const event = await h.send({
      channel: "sms",
      target: "77010000009",
      password: "777123",
      message: "hello {password}",
    });
    await h.provider.waitForRequests(2);
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    const { lastError } = await h.row(event.otp_id);
    expect(lastError).toContain("HTTP 500");
    expect(lastError).not.toContain("777123");
    expect(lastError).not.toContain("hello");
  });

  it("an answer with control bytes (a NUL from a binary error page) is stored as readable text, and the retry goes on", async () => {
    // PostgreSQL refuses a NUL in text: stored as given, the status write would fail on every try and
    // hold the delivery for ever, neither retried nor dead-lettered.
    h.provider.failNext(1, 502, { body: "bad\u0000gateway\u0007\u001b[31m upstream\r\n" });
    const event = await sms();
    await h.provider.waitForRequests(2);
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    expect((await h.row(event.otp_id)).lastError).toBe("HTTP 502: bad gateway [31m upstream");
  });
});

describe("permanent failures and the dead-letter queue", () => {
  it("a 400: one attempt, status failed with the reason, the event in the dead-letter queue", async () => {
    h.provider.failNext(1, 400, { body: { status: false, message: "bad phone" } });
    const event = await sms();
    await h.provider.waitForRequests(1);
    await expect.poll(() => h.status(event.otp_id)).toBe("failed");
    const row = await h.row(event.otp_id);
    expect(row.attempts).toBe(1);
    expect(row.lastError).toMatch(/^rejected: HTTP 400: .*bad phone/);
    await expect
      .poll(() => deadLetter(event.id))
      .toMatchObject({
        id: event.id,
        channel: "sms",
        otpId: event.otp_id,
        reason: "rejected",
        attempts: 1,
      });
    await new Promise((r) => setTimeout(r, 500));
    expect(h.provider.requests()).toHaveLength(1);
  });

  it("retries exhausted after OTP_DELIVERY_MAX_ATTEMPTS: failed, dead-lettered as exhausted", async () => {
    const d = await h.start({
      OTP_DELIVERY_MODE: "direct",
      OTP_DELIVERY_MAX_ATTEMPTS: "3",
      DISPATCHER_CHANNELS: "email",
    });
    // Consuming, and the only consumer of the email queue: every attempt is decided with a limit
    // of 3 (a second consumer with another limit would decide some of them).
    await expect.poll(async () => (await d.health()).consuming).toEqual(["email"]);
    expect(await consumers(h.t.workQueue("email"))).toBe(1);
    h.provider.addRule({ status: 502 });
    const event = await h.send({ channel: "email", target: "x@y.z", subject: "s {password}" });
    await expect.poll(() => h.status(event.otp_id), { timeout: 5_000 }).toBe("failed");
    const row = await h.row(event.otp_id);
    expect(row.attempts).toBe(3);
    expect(row.lastError).toMatch(/^exhausted: HTTP 502/);
    await expect
      .poll(async () => (await listDeadLetters(await h.amqp(), h.t)).filter((l) => l.id === event.id))
      .toEqual([
        expect.objectContaining({ reason: "exhausted", attempts: 3, lastError: expect.stringMatching(/^HTTP 502/) }),
      ]);
    // Exactly three attempts, all of this event, and none after the dead-lettering.
    await new Promise((r) => setTimeout(r, 500));
    expect(h.provider.requests().map((r) => r.headers["idempotency-key"])).toEqual([event.id, event.id, event.id]);
    await d.stop();
  });
});

describe("expiry", () => {
  it("an OTP whose provider keeps failing past its expiry: expired, and no attempt at or after expire_at", async () => {
    h.provider.addRule({ status: 503 });
    const event = await sms(2_000);
    const expireAt = Date.parse(event.expire_at);
    await expect.poll(() => h.status(event.otp_id), { timeout: 6_000 }).toBe("expired");
    const statusSeenAt = Date.now();
    // Recorded within a second or so of expiry, not at the end of the backoff.
    expect(statusSeenAt - expireAt).toBeLessThan(1_500);
    await new Promise((r) => setTimeout(r, 1_500));
    const attempts = h.provider.requests();
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    for (const r of attempts) expect(r.receivedAt).toBeLessThan(expireAt);
    const row = await h.row(event.otp_id);
    expect(row.attempts).toBe(attempts.length);
    expect(row.lastError).toMatch(/^HTTP 503/);
  });

  it("an event consumed at or after its expiry is dropped, recorded expired, and never sent", async () => {
    const event = await h.createOtp({ channel: "sms", target: "77010000002", message: "c {password}", lifetimeMs: 50 });
    await new Promise((r) => setTimeout(r, 100));
    await h.publish(event);
    await expect.poll(() => h.status(event.otp_id)).toBe("expired");
    expect((await h.row(event.otp_id)).attempts).toBe(0);
    expect(h.provider.requests()).toHaveLength(0);
  });
});
