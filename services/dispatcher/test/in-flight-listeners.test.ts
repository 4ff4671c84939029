import { expect, it } from "vitest";
import { useHarness } from "./support/harness.js";

const h = useHarness("in-flight-listeners");

it("a full prefetch of deliveries waiting on a slow provider raises no listener-leak warning", async () => {
  // Each delivery in flight listens for its channel's closing: 20 at once is the work, not a leak,
  // and Node's MaxListenersExceededWarning would send an operator looking for one.
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  h.provider.reset();
  h.provider.hold();
  const d = await h.start({ DISPATCHER_CHANNELS: "sms", DISPATCHER_PREFETCH: "32" });
  try {
    const events = [];
    for (let i = 0; i < 20; i++)
      events.push(await h.send({ channel: "sms", target: `770100001${String(i).padStart(2, "0")}` }));
    await expect.poll(() => h.provider.heldCount, { timeout: 10_000 }).toBe(20);
    h.provider.release();
    for (const event of events) await expect.poll(() => h.status(event.otp_id), { timeout: 10_000 }).toBe("delivered");
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  } finally {
    process.off("warning", onWarning);
    h.provider.release();
    await d.stop();
  }
});
