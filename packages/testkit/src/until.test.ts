import { describe, expect, it } from "vitest";
import { until } from "./until.js";

describe("until", () => {
  it("resolves as soon as the probe says true, probing again while it says false", async () => {
    let calls = 0;
    await until(() => ++calls === 3, { intervalMs: 1 });
    expect(calls).toBe(3);
  });

  it("treats a throwing probe as not yet", async () => {
    let calls = 0;
    await until(
      () => {
        calls++;
        if (calls < 3) throw new Error("refused");
        return true;
      },
      { intervalMs: 1 },
    );
    expect(calls).toBe(3);
  });

  it("rejects after the timeout, naming what it waited for and the probe's last error", async () => {
    const error = await until(
      () => {
        throw new Error("ECONNREFUSED");
      },
      { timeoutMs: 30, intervalMs: 5, what: "the API" },
    ).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^timed out after 30 ms waiting for the API \(last probe threw: .*ECONNREFUSED/,
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it("stops early when its signal is aborted, with the signal's reason", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("the process exited")), 20);
    await expect(until(() => false, { timeoutMs: 10_000, signal: controller.signal })).rejects.toThrow(
      "the process exited",
    );
  });
});
