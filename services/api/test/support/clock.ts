import type { Clock } from "../../src/clock.js";

/** Real time shifted by an offset the test moves forward: expiry and windows without sleeping. */
export interface TestClock {
  readonly now: Clock;
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms) {
      offset += ms;
    },
  };
}
