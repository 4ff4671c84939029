import { silentLog } from "@otp/broker";
import { describe, expect, it } from "vitest";
import { AbandonedError, holdUntilDone } from "./hold.js";

/** A step that fails `failures` times, then answers "done"; aborts `controller` at its first failure when asked. */
function step(failures: number, abortAtFirstFailure?: AbortController) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    fn: async () => {
      calls++;
      if (calls <= failures) {
        if (calls === 1) setTimeout(() => abortAtFirstFailure?.abort("channel closed"), 20);
        throw new Error("broker unavailable");
      }
      return "done";
    },
  };
}

describe("holdUntilDone", () => {
  it("tries again until the step works", async () => {
    const s = step(2);
    await expect(
      holdUntilDone("publish", s.fn, new AbortController().signal, silentLog, { minDelayMs: 5 }),
    ).resolves.toBe("done");
    expect(s.calls).toBe(3);
  });

  it("makes one last try when the message is abandoned during a wait (a status write is still worth it)", async () => {
    const abort = new AbortController();
    const s = step(1, abort);
    await expect(holdUntilDone("record", s.fn, abort.signal, silentLog, { minDelayMs: 1_000 })).resolves.toBe("done");
    expect(s.calls).toBe(2);
  });

  it("without tryAfterAbort, tries nothing more once abandoned: a copy of the message would double its redelivery", async () => {
    const abort = new AbortController();
    const s = step(1, abort);
    await expect(
      holdUntilDone("publish a copy", s.fn, abort.signal, silentLog, { minDelayMs: 1_000, tryAfterAbort: false }),
    ).rejects.toBeInstanceOf(AbandonedError);
    expect(s.calls).toBe(1);
    const already = step(0);
    await expect(
      holdUntilDone("publish a copy", already.fn, abort.signal, silentLog, { tryAfterAbort: false }),
    ).rejects.toBeInstanceOf(AbandonedError);
    expect(already.calls).toBe(0);
  });
});
