import type { AttemptResult, Transport } from "./types.js";

/** DUMMY=true: nothing leaves the process; every delivery counts as made (recorded as `dummy`). */
export function dummyTransport(): Transport {
  return {
    mode: "dummy",
    async deliver(): Promise<AttemptResult> {
      return { ok: true, note: "dummy" };
    },
  };
}
