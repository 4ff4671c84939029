import type { EventEmitter } from "node:events";

/**
 * The wait for a publisher channel's write buffer to drain, once amqplib's publish said it is full.
 * Each waiter waits until its own deadline at most: RabbitMQ may stop reading the socket for long
 * (flow control on a node short of its quorum) without blocking the connection, while heartbeats
 * keep it up, and a publish must fail then like one whose confirm does not come, not hang. The
 * waiters are a set, not reactions on one promise, so those that gave up leave nothing behind on a
 * drain that may never come.
 */
export class DrainWait {
  #waiters: Set<() => void> | undefined;
  #end: (() => void) | undefined;
  /** When the pending wait began (performance.now()). */
  #since = 0;

  /** A drain is awaited: the buffer is full, and a publish now would wait. */
  get pending(): boolean {
    return this.#waiters !== undefined;
  }

  /** How long the pending wait has lasted, in ms; 0 when none is pending. */
  pendingForMs(): number {
    return this.#waiters === undefined ? 0 : performance.now() - this.#since;
  }

  /** Awaits `channel`'s drain (or its close, which ends the wait as well), unless already awaiting one. */
  begin(channel: EventEmitter): void {
    if (this.#waiters) return;
    const waiters = new Set<() => void>();
    const end = () => {
      channel.off("drain", end);
      channel.off("close", end);
      if (this.#waiters === waiters) {
        this.#waiters = undefined;
        this.#end = undefined;
      }
      for (const waiter of waiters) waiter();
    };
    this.#waiters = waiters;
    this.#end = end;
    this.#since = performance.now();
    channel.on("drain", end);
    channel.on("close", end);
  }

  /** Ends the wait now: each waiter goes on (and finds out why, e.g. a blocked connection). */
  end(): void {
    this.#end?.();
  }

  /** Resolves once no drain is pending; rejects with `timedOut()` at `deadline` (performance.now()). */
  wait(deadline: number, timedOut: () => Error): Promise<void> {
    const waiters = this.#waiters;
    if (!waiters) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          waiters.delete(waiter);
          reject(timedOut());
        },
        Math.max(0, deadline - performance.now()),
      );
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      waiters.add(waiter);
    });
  }
}
