import { describe, expect, it } from "vitest";
import { Batcher, BatchTimeoutError } from "./batcher.js";

describe("Batcher: a batch that never answers", () => {
  it("fails its calls after the timeout and frees its slot, so the next calls go out", async () => {
    const runs: string[][] = [];
    // The first batch hangs (a statement on a connection that never answers); later ones answer.
    const batcher = new Batcher<string, null, string>(
      (items) => {
        runs.push(items.map((i) => i.key));
        if (runs.length <= 1) return new Promise(() => {});
        return Promise.resolve(new Map(items.map((i) => [i.key, `row ${i.key}`])));
      },
      1,
      1,
      50,
    );
    const stuck = batcher.load("a", null);
    const waiting = batcher.load("c", null);
    await expect(stuck).rejects.toBeInstanceOf(BatchTimeoutError);
    await expect(waiting).resolves.toBe("row c");
    await expect(batcher.load("a", null)).resolves.toBe("row a");
    expect(runs).toEqual([["a"], ["c"], ["a"]]);
  });

  it("starts no new statement while the live and timed-out ones reach twice its slots", async () => {
    // A database slow but alive: every statement takes 300 ms against a 50 ms batch timeout. Without
    // a bound it would start two more every 50 ms, each queueing behind the last's row locks.
    let running = 0;
    let most = 0;
    const batcher = new Batcher<string, null, string>(
      async (items) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 300));
        running--;
        return new Map(items.map((i) => [i.key, `row ${i.key}`]));
      },
      1,
      2,
      50,
    );
    const calls = ["a", "b", "c", "d", "e", "f", "g", "h"].map((key) =>
      batcher.load(key, null).catch(() => "timed out"),
    );
    await Promise.all(calls);
    await expect.poll(() => running, { timeout: 2_000 }).toBe(0);
    expect(most).toBeLessThanOrEqual(4); // two slots and at most two given up on
  });

  it("a late answer of a timed-out batch neither reaches its calls nor frees a second slot", async () => {
    const answers: ((rows: Map<string, string>) => void)[] = [];
    const batcher = new Batcher<string, null, string>(
      () => new Promise((resolve) => answers.push(resolve)),
      500,
      1,
      500,
    );
    const timedOut = batcher.load("a", null);
    await expect(timedOut).rejects.toBeInstanceOf(BatchTimeoutError);
    const second = batcher.load("b", null); // takes the one slot, for well under its 500 ms
    await expect.poll(() => answers.length).toBe(2);
    answers[0]?.(new Map([["a", "late"]]));
    const third = batcher.load("c", null);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answers).toHaveLength(2); // "c" waits for "b"'s slot: the late answer freed none
    answers[1]?.(new Map([["b", "row b"]]));
    await expect(second).resolves.toBe("row b");
    await expect.poll(() => answers.length).toBe(3);
    answers[2]?.(new Map([["c", "row c"]]));
    await expect(third).resolves.toBe("row c");
  });
});
