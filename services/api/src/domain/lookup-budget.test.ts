import { describe, expect, it } from "vitest";
import { retryAfterSeconds, targetKeys } from "./lookup-budget.js";

const at = (s: number) => new Date(1_000_000 + s * 1000);

describe("lookup budget", () => {
  it("with ip, an address gets a quarter of its channel's misses, rounded up, and is counted first", () => {
    expect(targetKeys(10, "sms", "203.0.113.7")).toEqual([
      { key: "target:sms:ip:203.0.113.7", cap: 3 },
      { key: "target:sms", cap: 10 },
    ]);
    expect(targetKeys(10, "sms", undefined)).toEqual([{ key: "target:sms", cap: 10 }]);
    expect(targetKeys(1, "sms", "203.0.113.7")[0]?.cap).toBe(1);
  });

  it("refuses once a key holds its cap, until the miss that makes room leaves the minute", () => {
    const keys = [{ key: "k", cap: 3 }];
    expect(retryAfterSeconds(keys, [{ miss_key: "k", misses: [at(0), at(10)] }], at(20))).toBeUndefined();
    expect(retryAfterSeconds(keys, [{ miss_key: "k", misses: [at(0), at(10), at(15)] }], at(20))).toBe(40);
    // A lowered cap: the 2nd oldest must leave too.
    expect(
      retryAfterSeconds([{ key: "k", cap: 2 }], [{ miss_key: "k", misses: [at(0), at(10), at(15)] }], at(20)),
    ).toBe(50);
  });

  it("waits for the slowest of the keys that are full, at least a second", () => {
    const keys = [
      { key: "a", cap: 1 },
      { key: "b", cap: 1 },
    ];
    const rows = [
      { miss_key: "a", misses: [at(5)] },
      { miss_key: "b", misses: [at(30)] },
    ];
    expect(retryAfterSeconds(keys, rows, at(40))).toBe(50);
    expect(retryAfterSeconds([{ key: "a", cap: 1 }], [{ miss_key: "a", misses: [at(0)] }], at(59.9))).toBe(1);
  });
});
