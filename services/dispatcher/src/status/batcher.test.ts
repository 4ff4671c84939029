import { describe, expect, it } from "vitest";
import { Batcher, BatchTimeoutError } from "./batcher.js";

describe("Batcher: a batch that never answers", () => {
  it("fails its calls after the timeout and frees its slot, so the next calls go out", async () => {
    const runs: string[][] = [];
    // The first two batches hang (a statement on a connection that never answers); later ones answer.
    const batcher = new Batcher<string, null, string>(
      (items) => {
        runs.push(items.map((i) => i.key));
        if (runs.length <= 2) return new Promise(() => {});
        return Promise.resolve(new Map(items.map((i) => [i.key, `row ${i.key}`])));
      },
      1,
      2,
      50,
    );
    const stuck = [batcher.load("a", null), batcher.load("b", null)];
    const waiting = batcher.load("c", null);
    for (const call of stuck) await expect(call).rejects.toBeInstanceOf(BatchTimeoutError);
    await expect(waiting).resolves.toBe("row c");
    await expect(batcher.load("a", null)).resolves.toBe("row a");
    expect(runs).toEqual([["a"], ["b"], ["c"], ["a"]]);
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
