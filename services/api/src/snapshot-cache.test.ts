import { createLogger } from "@otp/contracts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createSnapshotCache, FRESH_MS } from "./snapshot-cache.js";

/**
 * A table whose reads are held at a gate: a read takes the table as it is when it starts, and
 * answers only once the gate is open, so a test can change the table while a read is in flight.
 */
function gatedTable(initial: string) {
  let contents = initial;
  let open = true;
  let opened = () => {};
  let gate = Promise.resolve();
  return {
    load: async () => {
      const seen = contents;
      await gate;
      return seen;
    },
    set: (next: string) => {
      contents = next;
    },
    close: () => {
      open = false;
      gate = new Promise((resolve) => (opened = resolve));
    },
    open: () => {
      if (!open) opened();
      open = true;
    },
  };
}

const cacheOf = (table: ReturnType<typeof gatedTable>) =>
  createSnapshotCache({ initial: "empty", load: table.load, logger: createLogger("test", "silent"), what: "a table" });

afterEach(() => {
  vi.useRealTimers();
});

describe("a snapshot cache after this process's change", () => {
  it("does not answer from a read begun before the change", async () => {
    const table = gatedTable("before");
    table.close();
    const cache = cacheOf(table);
    const first = cache.current(); // its read takes the table before the change
    table.set("after");
    cache.changed();
    const second = cache.current();
    table.open();
    expect(await second).toBe("after");
    await first;
  });

  it("does not answer from a background refresh begun just before the change", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const table = gatedTable("before");
    const cache = cacheOf(table);
    expect(await cache.current()).toBe("before");
    vi.advanceTimersByTime(FRESH_MS + 100);
    table.close();
    expect(await cache.current()).toBe("before"); // stale enough to refresh in the background
    table.set("after");
    cache.changed();
    const next = cache.current();
    table.open();
    expect(await next).toBe("after");
  });
});
