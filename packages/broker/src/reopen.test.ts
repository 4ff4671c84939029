import { describe, expect, it } from "vitest";
import { ChannelReopener } from "./reopen.js";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ChannelReopener", () => {
  it("tries again with backoff until the open works, and reports each failure", async () => {
    const failures: number[] = [];
    const reopener = new ChannelReopener((_e, retryInMs) => failures.push(retryInMs), 40);
    let opens = 0;
    reopener.schedule(
      5,
      async () => {
        if (++opens < 4) throw new Error("no channel");
      },
      () => true,
    );
    await pause(200);
    expect(opens).toBe(4);
    expect(failures).toEqual([10, 20, 40]);
  });

  it("runs one attempt at a time, however often a reopen is asked for meanwhile", async () => {
    const reopener = new ChannelReopener(() => {});
    let opens = 0;
    let concurrent = 0;
    let most = 0;
    const open = async () => {
      opens++;
      most = Math.max(most, ++concurrent);
      await pause(20);
      concurrent--;
      // A failed open that also closed its channel: the close asks for another reopen.
      reopener.schedule(5, open, () => opens < 3);
      throw new Error("closed");
    };
    reopener.schedule(5, open, () => opens < 3);
    reopener.schedule(5, open, () => opens < 3);
    await pause(300);
    expect(opens).toBe(3);
    expect(most).toBe(1);
  });

  it("stops when the channel is no longer wanted", async () => {
    const reopener = new ChannelReopener(() => {});
    let opens = 0;
    reopener.schedule(
      5,
      async () => {
        opens++;
        throw new Error("no channel");
      },
      () => opens < 1,
    );
    await pause(100);
    expect(opens).toBe(1);
  });
});
