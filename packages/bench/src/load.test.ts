import { describe, expect, it } from "vitest";
import { percentile, walDistance } from "./load.js";

describe("load figures", () => {
  it("measures WAL between two positions, across the 4 GiB boundary", () => {
    expect(walDistance("16/B374D000", "16/B374D848")).toBe(0x848);
    expect(walDistance("0/FFFFFFFF", "1/0")).toBe(1);
  });

  it("reads exact percentiles from sorted latencies", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(new Float64Array(0), 99)).toBeNaN();
  });
});
