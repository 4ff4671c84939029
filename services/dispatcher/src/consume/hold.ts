import { setTimeout as sleep } from "node:timers/promises";
import type { Log } from "@otp/broker";

/**
 * A message given up on purpose, from wherever its handling was when that became clear: shutdown
 * stopped waiting for it, or its AMQP channel is gone (the handler's `abandon` signal aborted).
 * Thrown by holdUntilDone, by settle before it would publish a copy, and by handleEvent when
 * shutdown cuts a provider call short. The pipeline catches exactly this type and returns the
 * settlement `"abandon"` (consume/consumer.ts): the message stays unacked and is redelivered. Any
 * other error is a bug.
 */
export class AbandonedError extends Error {
  override readonly name = "AbandonedError";
}

/**
 * Retries an infrastructure step (a database write, a publish) with capped backoff until it
 * works or `signal` aborts. The message stays unacked meanwhile and holds one prefetch slot, so a
 * database or broker outage slows consumption down to nothing instead of spinning or dropping:
 * no nack (which would drop or dead-letter it), no immediate requeue (which would spin).
 *
 * It tries again once a step has failed, never while it hangs: each step bounds its own wait, so
 * that a dependency that stops answering without a word becomes a failure here — a query by the
 * pool's query timeout (packages/db/src/pool.ts), a status read or write sooner by its batch's
 * (status/batcher.ts), a publish by its confirm timeout. Racing a step against a timer here
 * instead would start a second one while the first may still land.
 */
export async function holdUntilDone<T>(
  what: string,
  fn: () => Promise<T>,
  signal: AbortSignal,
  log: Log,
  options: { minDelayMs?: number; maxDelayMs?: number; tryAfterAbort?: boolean } = {},
): Promise<T> {
  const { minDelayMs = 200, maxDelayMs = 5_000, tryAfterAbort = true } = options;
  const gaveUp = () => new AbandonedError(`gave up ${what}: ${String(signal.reason ?? "aborted")}`);
  let delay = minDelayMs;
  // With `tryAfterAbort`, the first try is made even after an abort, and an abort during a wait
  // cuts it short for one last try: a status write after a delivery is worth it even when the
  // message's channel is gone (its redelivery then finds the OTP delivered and skips it). Without,
  // nothing is tried once `signal` has aborted: for a copy of the message, which the redelivery
  // would double.
  for (let tries = 1; ; tries++) {
    if (!tryAfterAbort && signal.aborted) throw gaveUp();
    try {
      return await fn();
    } catch (error) {
      if (signal.aborted) throw gaveUp();
      if (tries === 1 || tries % 10 === 0)
        log.warn({ err: error, tries, retryInMs: delay }, `cannot ${what} yet; holding the message`);
      await sleep(delay, undefined, { signal }).catch(() => {});
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }
}

/** Waits for `promise` to settle, at most `ms`; never throws. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  // An unref'd timer: waiting for a broker that never answers must not keep the process up.
  await Promise.race([promise.catch(() => {}), sleep(ms, undefined, { ref: false })]);
}
