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
   * `current()` reads, and answers nothing read before the change (docs/test-targets.md, "What a
   * create to a test target does": a change through a process is in force there at once). A read
   * that started before the change does not put the old copy back.
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
  /** Bumped by each change through this process; `copyGeneration` is the one `copy` reflects. */
  let generation = 0;
  let copyGeneration = 0;
  let reading: { readonly generation: number; readonly done: Promise<void> } | undefined;

  const load = async (startedGeneration: number) => {
    const started = performance.now();
    try {
      const loaded = await options.load();
      if (generation !== startedGeneration) return;
      copy = loaded;
      copyGeneration = startedGeneration;
      readAt = started;
    } finally {
      if (reading?.generation === startedGeneration) reading = undefined;
    }
  };
  // A read in flight is shared only within its generation: one begun before a change may have
  // read the table before it, and is discarded when it ends.
  const read = () => {
    if (reading?.generation !== generation) reading = { generation, done: load(generation) };
    return reading.done;
  };

  return {
    async current() {
      const age = performance.now() - readAt;
      if (age > STALE_MS || copyGeneration !== generation) {
        // Again while a change came during the read: what this process changed is in force at once.
        do await read();
        while (copyGeneration !== generation);
      } else if (age > FRESH_MS) {
        read().catch((error: unknown) =>
          options.logger.warn({ err: error }, `reading ${options.what} failed; kept the last`),
        );
      }
      return copy;
    },
    changed(next) {
      generation++;
      if (!next) return;
      copy = next(copy);
      copyGeneration = generation;
    },
  };
}
