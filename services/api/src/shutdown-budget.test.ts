import { FORCE_EXIT_MS } from "@otp/contracts";
import { describe, expect, it } from "vitest";
import { ABANDON_GRACE_MS } from "./outbox/relay.js";
import { BROKER_CLOSE_MS, CLOSE_BUDGET_MS, DRAIN_MS, flushTimeoutMs } from "./shutdown-budget.js";

describe("shutdown budget", () => {
  it("fits the worst case (longest drain, relay abandoned, broker close timed out) inside the force exit, with margin", () => {
    const start = 0;
    const deadline = start + CLOSE_BUDGET_MS;
    const afterDrain = start + DRAIN_MS;
    const relayTimeout = Math.max(0, flushTimeoutMs(deadline, afterDrain) - ABANDON_GRACE_MS);
    const worst = DRAIN_MS + relayTimeout + ABANDON_GRACE_MS + BROKER_CLOSE_MS;
    expect(worst).toBeLessThanOrEqual(CLOSE_BUDGET_MS);
    expect(FORCE_EXIT_MS - worst).toBeGreaterThanOrEqual(1_000);
    // The relay still gets a real chance to finish its pass after the longest drain.
    expect(relayTimeout).toBeGreaterThanOrEqual(1_000);
  });

  it("gives the relay the time a quick drain left, and nothing once the deadline is past", () => {
    expect(flushTimeoutMs(7_500, 100)).toBe(6_400);
    expect(flushTimeoutMs(7_500, 7_000)).toBe(0);
  });
});
