import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useHarness } from "./support/harness.js";

/**
 * A provider that honours Idempotency-Key answers a repeat of a request it is still working on with
 * 409 Conflict (or 425 Too Early): the repeat of an attempt of ours that timed out after it got the
 * request. That is "not yet", not "never": the delivery is tried again, not failed.
 */
const h = useHarness("idempotency-repeat");

beforeAll(async () => {
  await h.start({ OTP_DELIVERY_MODE: "direct", DISPATCHER_CHANNELS: "sms" });
});

beforeEach(() => {
  h.provider.reset();
});

describe("a provider's answer to a repeated Idempotency-Key", () => {
  for (const [status, body] of [
    [409, { error: "a request with this Idempotency-Key is still in progress" }],
    [425, { error: "too early" }],
  ] as const) {
    it(`${status} then 200: retried with the same key and delivered, never failed nor dead-lettered`, async () => {
      h.provider.failNext(1, status, { body });
      const event = await h.send({ channel: "sms", target: "77011234567", message: "code {password}" });
      await h.provider.waitForRequests(2, { timeoutMs: 10_000 });
      await expect.poll(() => h.status(event.otp_id)).toBe("delivered");
      const requests = h.provider.requests();
      expect(requests.map((r) => r.headers["idempotency-key"])).toEqual([event.id, event.id]);
      expect(await h.row(event.otp_id)).toMatchObject({
        attempts: 2,
        lastError: `HTTP ${status}: ${JSON.stringify(body)}`,
      });
      expect(await h.messageCount(h.t.deadQueue)).toBe(0);
    });
  }
});
