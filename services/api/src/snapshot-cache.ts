import type { Logger } from "@otp/contracts";

/** A copy younger than this is used as it is. */
export const FRESH_MS = 500;
/** An older copy is still used while a refresh runs in the background, up to this age. */
export const STALE_MS = 1000;

/**
 * Each API process's copy of a small table read on a hot path (the destination policies, the test
 * targets): used as it is while younger than FRESH_MS, used while a background read refreshes it
 * up to STALE_MS, read before answering past that (or after a failed read). A change made anywhere
 * is in force everywhere within STALE_MS, one second, and under steady traffic no request waits.
 */
export interface SnapshotCache<T> {
  current(): Promise<T>;
  /**
   * This process changed the table: `next` (when given) is the copy to use at once, else the next
   * `current()` reads. A read that started before the change does not put the old copy back.
   */
  changed(next?: (copy: T) => T): void;
}

export function createSnapshotCache<T>(options: {
  initial: T;
  load: () => Promise<T>;
  logger: Logger;
  /** What it holds, for the log line of a failed background read. */
  what: string;
}): SnapshotCache<T> {
  let copy = options.initial;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  let generation = 0;

  const read = () => {
    reading ??= (async () => {
      const started = performance.now();
      const startedGeneration = generation;
      try {
        const loaded = await options.load();
        if (generation !== startedGeneration) return;
        copy = loaded;
        readAt = started;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  return {
    async current() {
      const age = performance.now() - readAt;
      if (age > STALE_MS) await read();
      else if (age > FRESH_MS) {
        read().catch((error: unknown) =>
          options.logger.warn({ err: error }, `reading ${options.what} failed; kept the last`),
        );
      }
      return copy;
    },
    changed(next) {
      generation++;
      if (next) copy = next(copy);
      else readAt = Number.NEGATIVE_INFINITY;
    },
  };
}
