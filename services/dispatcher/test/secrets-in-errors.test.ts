import { describe, expect, it } from "vitest";
import { TELEGRAM_TOKEN, useHarness } from "./support/harness.js";

/**
 * Queue mode puts telegram's app token (OTP_TELEGRAM_APP_TOKEN) in the task's body; a Queue service
 * that refuses the task may echo it. What the dispatcher stores and dead-letters of that answer
 * must not hold the token: `last_error` is shown by GET /otp/{id}.
 */
const h = useHarness("secrets-in-errors");

describe("a provider's error that echoes the telegram app token", () => {
  it("is stored and dead-lettered with the token masked", async () => {
    await h.start({ DISPATCHER_CHANNELS: "telegram" });
    const body = {
      error: "invalid task",
      task: { worker: "telegram-worker", headers: { "X-Auth-Token": TELEGRAM_TOKEN } },
    };
    h.provider.failNext(1, 422, { body });
    const event = await h.send({ channel: "telegram", target: "555000111", message: "Code {password}" });
    await expect.poll(() => h.status(event.otp_id)).toBe("failed");
    expect(h.provider.requests()[0]?.body).toContain(TELEGRAM_TOKEN); // the task did carry it

    const masked = JSON.stringify(body).replace(TELEGRAM_TOKEN, "***");
    expect((await h.row(event.otp_id)).lastError).toBe(`rejected: HTTP 422: ${masked}`);
    const ch = await (await h.amqp()).createChannel();
    const letter = await ch.get(h.t.deadQueue, { noAck: true });
    await ch.close();
    expect(letter ? letter.properties.headers?.["x-otp-last-error"] : "no dead letter").toBe(`HTTP 422: ${masked}`);
  });
});
