import type { NodeProcess } from "@otp/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startChildDispatcher } from "./support/child.js";
import { useHarness } from "./support/harness.js";

const h = useHarness("procs");
const children: NodeProcess[] = [];

async function child(env: Record<string, string> = {}): Promise<NodeProcess> {
  const c = await startChildDispatcher(h.env({ DISPATCHER_CHANNELS: "sms", ...env }));
  children.push(c);
  return c;
}

// A test that fails half-way must not leave a consumer behind for the next one.
afterEach(async () => {
  await Promise.all(children.map((c) => c.kill()));
  children.length = 0;
});

beforeEach(async () => {
  h.provider.reset();
  const ch = await (await h.amqp()).createChannel();
  await ch.purgeQueue(h.t.workQueue("sms"));
  await ch.close();
});

describe("a dispatcher process", () => {
  it("killed with SIGKILL mid-delivery: another dispatcher delivers the event (same idempotency key)", async () => {
    h.provider.addRule({ action: "hang", times: 1 }); // the first request is held open, never answered
    // A timeout longer than the test: with the harness's 2 s, a second child slow to start (a busy
    // machine) let the first time out, retry and deliver the event itself before it was killed.
    const first = await child({ OTP_DELIVERY_TIMEOUT: "60" });
    const event = await h.send({ channel: "sms", target: "77015550000", message: "c {password}" });
    await h.provider.waitForRequests(1);
    const second = await child();
    first.signal("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    await expect.poll(() => h.status(event.otp_id), { timeout: 15_000 }).toBe("delivered");
    const requests = h.provider.requests();
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers["idempotency-key"])).toEqual([event.id, event.id]);
    await expect.poll(() => second.logged("delivered").length).toBe(1);
    expect(first.logged("delivered")).toHaveLength(0);
    second.signal("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });

  it("SIGTERM: stops taking work, finishes the deliveries in flight, exits 0 within 10 s", async () => {
    h.provider.setDelay(3_000); // long enough to send SIGTERM while all five are in flight, even on a busy machine
    const d = await child({ DISPATCHER_PREFETCH: "5", OTP_DELIVERY_TIMEOUT: "10" });
    const inFlight = await Promise.all(
      Array.from({ length: 5 }, (_, i) => h.send({ channel: "sms", target: `770100${i}`, message: "{password}" })),
    );
    await h.provider.waitForRequests(5);
    const waiting = await h.send({ channel: "sms", target: "77019999999", message: "{password}" });
    const signalledAt = Date.now();
    d.signal("SIGTERM");
    const { code } = await d.exited;
    const took = Date.now() - signalledAt;
    expect(code).toBe(0);
    expect(took).toBeLessThan(10_000);
    for (const e of inFlight) expect(await h.status(e.otp_id)).toBe("delivered");
    // The one that was not yet taken stays queued for the next dispatcher.
    expect(await h.status(waiting.otp_id)).toBe("pending");
    expect(h.provider.requests()).toHaveLength(5);
    await expect.poll(() => h.messageCount(h.t.workQueue("sms"))).toBe(1);

    h.provider.setDelay(0);
    const next = await child();
    await expect.poll(() => h.status(waiting.otp_id)).toBe("delivered");
    next.signal("SIGTERM");
    await next.exited;
  });

  it("SIGTERM with a provider that never answers: exits 0 within 10 s and the delivery is not lost", async () => {
    h.provider.hold();
    const d = await child({ OTP_DELIVERY_TIMEOUT: "60" });
    const event = await h.send({ channel: "sms", target: "77012223344", message: "{password}" });
    await h.provider.waitForRequests(1);
    const signalledAt = Date.now();
    d.signal("SIGTERM");
    const { code } = await d.exited;
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    // Abandoned, not acked: back in its queue, still pending, for the next dispatcher.
    expect(await h.status(event.otp_id)).toBe("pending");
    await expect.poll(() => h.messageCount(h.t.workQueue("sms"))).toBe(1);
    h.provider.release();
  }, 30_000);
});
