import { describe, expect, it } from "vitest";
import { cachedHealth } from "./health.js";

describe("cachedHealth", () => {
  it("probes at most once per max age, and concurrent callers share one probe", async () => {
    let probes = 0;
    let clock = 0;
    const health = cachedHealth(
      async () => {
        probes++;
        return { database: probes === 1, broker: true };
      },
      1_000,
      () => clock,
    );
    const burst = await Promise.all(Array.from({ length: 50 }, () => health()));
    expect(probes).toBe(1);
    expect(burst.every((h) => h.database)).toBe(true);
    clock = 999;
    expect((await health()).database).toBe(true);
    expect(probes).toBe(1);
    clock = 1_000;
    expect((await health()).database).toBe(false);
    expect(probes).toBe(2);
  });
});
