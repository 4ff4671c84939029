import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Dispatcher } from "../src/dispatcher.js";
import { listDeadLetters } from "../src/dlq/dead-letters.js";
import { useHarness } from "./support/harness.js";

const h = useHarness("behaviour");

beforeEach(() => {
  h.provider.reset();
});

async function deadLetter(id: string) {
  return (await listDeadLetters(await h.amqp(), h.t)).find((l) => l.id === id);
}

describe("DUMMY=true", () => {
  let dispatcher: Dispatcher;
  beforeAll(async () => {
    dispatcher = await h.start({ DUMMY: "true", OTP_DELIVERY_MODE: "direct" });
  });
  afterAll(() => dispatcher.stop());

  it("sends nothing at all and records every channel as delivered (dummy)", async () => {
    const events = await Promise.all([
      h.send({ channel: "sms", target: "77011112233", message: "{password}" }),
      h.send({ channel: "call", target: "77011112233" }),
      h.send({ channel: "email", target: "a@b.c", subject: "{password}" }),
      h.send({ channel: "telegram", target: "42", message: "{password}" }),
    ]);
    for (const event of events) {
      await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
      expect(await h.row(event.otp_id)).toMatchObject({ attempts: 1, lastError: "dummy" });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(h.provider.requests()).toHaveLength(0);
    const metrics = await dispatcher.metrics.registry.getSingleMetricAsString("deliveries_total");
    expect(metrics).toContain('deliveries_total{channel="sms",outcome="dummy"} 1');
  });
});

describe("queue mode, one dispatcher", () => {
  let dispatcher: Dispatcher;
  beforeAll(async () => {
    dispatcher = await h.start();
  });
  afterAll(() => dispatcher.stop());

  it("a duplicate event for an OTP already delivered is not sent again", async () => {
    const event = await h.send({ channel: "sms", target: "77011112233", message: "c {password}" });
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    await h.publish(event); // an outbox republish, or a redelivery after a crash
    await h.publish(event);
    await expect
      .poll(async () =>
        (await dispatcher.metrics.registry.getSingleMetricAsString("deliveries_total")).includes(
          'outcome="duplicate"} 2',
        ),
      )
      .toBe(true);
    expect(h.provider.requests()).toHaveLength(1);
    expect((await h.row(event.otp_id)).attempts).toBe(1);
  });

  it("dead-letters what it cannot read or open, with the reason, and sends nothing", async () => {
    const good = await h.createOtp({ channel: "sms", target: "77011112233", message: "c {password}" });
    const notJson = randomUUID();
    await h.publish({ channel: "sms", raw: Buffer.from("not json"), id: notJson });
    const v2 = randomUUID();
    await h.publish({ channel: "sms", raw: Buffer.from(JSON.stringify({ ...good, v: 2, id: v2 })), id: v2 });
    const tampered = { ...good, id: randomUUID() }; // sealed under another event id: does not open
    await h.publish(tampered);
    const orphan = { ...(await h.createOtp({ channel: "sms", target: "1", message: "x" })), otp_id: randomUUID() };
    await h.publish(orphan);

    await expect.poll(() => deadLetter(notJson)).toMatchObject({ reason: "malformed", channel: "sms", otpId: null });
    await expect.poll(() => deadLetter(v2)).toMatchObject({ reason: "unsupported_version" });
    await expect.poll(() => deadLetter(tampered.id)).toMatchObject({ reason: "unsealable", otpId: good.otp_id });
    await expect.poll(() => deadLetter(orphan.id)).toMatchObject({ reason: "otp_not_found" });
    expect(await h.row(good.otp_id)).toMatchObject({ status: "failed", attempts: 0 });
    expect((await h.row(good.otp_id)).lastError).toMatch(/^unsealable/);
    expect(h.provider.requests()).toHaveLength(0);
  });

  it("an event that cannot become a request (a non-integer telegram chat id) fails at once, nothing sent", async () => {
    const event = await h.send({ channel: "telegram", target: "not-a-number", message: "{password}" });
    await expect.poll(() => h.status(event.otp_id)).toBe("failed");
    expect((await h.row(event.otp_id)).lastError).toBe("rejected: the telegram chat id is not an integer");
    await expect.poll(() => deadLetter(event.id)).toMatchObject({ reason: "rejected" });
    expect(h.provider.requests()).toHaveLength(0);
  });

  it("serves /health (200 while RabbitMQ and PostgreSQL answer) and /metrics", async () => {
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${dispatcher.port}/health`);
      return { status: res.status, body: await res.json() };
    };
    // startDispatcher returns before its connection is up: 503 until RabbitMQ answers and the
    // consumers consume.
    await expect.poll(health).toEqual({
      status: 200,
      body: {
        status: true,
        content: { database: true, broker: true, consuming: ["sms", "call", "email", "telegram", "webhook"] },
      },
    });

    const metrics = async () => await (await fetch(`http://127.0.0.1:${dispatcher.port}/metrics`)).text();
    const delivered = 'deliveries_total{channel="call",outcome="delivered"}';
    const attempts = 'delivery_attempt_duration_seconds_count{channel="call"}';
    const deadLetters = 'dead_letters_total{channel="email",reason="malformed"}';
    const before = await metrics();
    const event = await h.send({ channel: "call", target: "77011112233" });
    const malformed = randomUUID();
    await h.publish({ channel: "email", raw: Buffer.from("not json"), id: malformed });
    await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
    await expect.poll(() => deadLetter(malformed)).toMatchObject({ reason: "malformed" });

    // The counters move just after the status write and the dead-letter copy the polls above saw.
    await expect.poll(async () => sample(await metrics(), delivered)).toBe(sample(before, delivered) + 1);
    const after = await metrics();
    expect(sample(after, attempts)).toBe(sample(before, attempts) + 1);
    expect(sample(after, deadLetters)).toBe(sample(before, deadLetters) + 1);
    expect(after).toContain("# TYPE delivery_retries_total counter");
    expect(after).toContain("process_cpu_user_seconds_total");
  });
});

/** One series' value in Prometheus text (0 while the series does not exist yet). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("scaling", () => {
  it("DISPATCHER_CHANNELS limits a dispatcher to its channels; two dispatchers on one queue share the work", async () => {
    h.provider.setDelay(20);
    const smsOnly = await h.start({ DISPATCHER_CHANNELS: "sms", DISPATCHER_PREFETCH: "4" });
    const smsAndCall = await h.start({ DISPATCHER_CHANNELS: "sms,call", DISPATCHER_PREFETCH: "4" });
    const events = await Promise.all(
      Array.from({ length: 60 }, (_, i) => h.send({ channel: "sms", target: `7701${i}`, message: "{password}" })),
    );
    const email = await h.send({ channel: "email", target: "nobody@here", subject: "{password}" });
    for (const e of events) await expect.poll(() => h.status(e.otp_id)).toBe("delivered");
    const handled = async (d: Dispatcher) =>
      Number(
        /deliveries_total\{channel="sms",outcome="delivered"\} (\d+)/.exec(
          await d.metrics.registry.getSingleMetricAsString("deliveries_total"),
        )?.[1] ?? 0,
      );
    // The counter moves just after the status write the poll above saw.
    await expect.poll(async () => (await handled(smsOnly)) + (await handled(smsAndCall))).toBe(60);
    const a = await handled(smsOnly);
    const b = await handled(smsAndCall);
    expect(a).toBeGreaterThan(5);
    expect(b).toBeGreaterThan(5);
    expect(h.provider.requests()).toHaveLength(60);
    // Nobody consumes email here: it waits in its queue.
    expect(await h.status(email.otp_id)).toBe("pending");
    await expect.poll(() => h.messageCount(h.t.workQueue("email"))).toBe(1);
    await Promise.all([smsOnly.stop(), smsAndCall.stop()]);
  });
});
