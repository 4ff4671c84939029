import { restartRabbitMq } from "@otp/testkit";
import { expect, it } from "vitest";
import { useHarness } from "./support/harness.js";

const h = useHarness("restart");

it("RabbitMQ restarted mid-stream: every event is delivered, before and after the restart", async () => {
  h.provider.setDelay(15);
  const d = await h.start({ DISPATCHER_CHANNELS: "sms,email", DISPATCHER_PREFETCH: "8" });
  const before = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0
        ? h.send({ channel: "sms", target: `7704${i}`, message: "{password}" })
        : h.send({ channel: "email", target: `u${i}@example.com`, subject: "{password}" }),
    ),
  );
  await h.provider.waitForRequests(40);

  await restartRabbitMq(1_000);

  // The harness's own publisher reconnects too; publish more once it can.
  const after = [];
  for (let i = 0; i < 50; i++) {
    for (;;) {
      try {
        after.push(await h.send({ channel: "sms", target: `7705${i}`, message: "{password}" }));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  for (const e of [...before, ...after]) {
    await expect.poll(() => h.status(e.otp_id), { timeout: 60_000 }).toBe("delivered");
  }
  const keys = new Set(h.provider.requests().map((r) => r.headers["idempotency-key"]));
  for (const e of [...before, ...after]) expect(keys.has(e.id)).toBe(true);
  await expect.poll(async () => (await fetch(`http://127.0.0.1:${d.port}/health`)).status).toBe(200);
  // Redeliveries of what was in flight at the restart are allowed (at-least-once), but few.
  expect(h.provider.requests().length - keys.size).toBeLessThanOrEqual(16);
  await d.stop();
});
