import { describe, expect, it } from "vitest";
import { randomBlocks } from "./random-blocks.js";

describe("randomBlocks", () => {
  it("hands out values of the size asked, never the same bytes twice, across blocks", () => {
    const next = randomBlocks(16, 4);
    const values = Array.from({ length: 10 }, () => next());
    expect(values.every((v) => v.length === 16)).toBe(true);
    expect(new Set(values.map((v) => v.toString("hex"))).size).toBe(10);
    // Each value is its own bytes: writing one does not change another (no block is reused).
    const copies = values.map((v) => Buffer.from(v));
    for (const v of values) v.fill(0);
    expect(new Set(copies.map((v) => v.toString("hex"))).size).toBe(10);
    const after = Array.from({ length: 8 }, () => next().toString("hex"));
    expect(after.some((hex) => hex === "0".repeat(32))).toBe(false);
  });
});
