interface Pending<K, I, O> {
  readonly key: K;
  readonly input: I;
  readonly resolve: (o: O | undefined) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Gathers calls into batches: one query for a hundred OTPs costs about what one query for one
 * costs, and a round trip per message would make PostgreSQL (and the system calls of talking to
 * it) the ceiling of delivery throughput.
 *
 * At most `maxInFlight` batches run at once; calls made meanwhile wait and go out together in the
 * next batch as soon as one finishes. Under load the batches grow by themselves; when idle, a call
 * goes out in the next turn of the event loop. (Flushing every turn instead gave batches of one or
 * two at 1,000 deliveries/s, so two statements per delivery.)
 *
 * A key appears at most once per batch (a second call with the same key goes to another batch), so
 * a batch's statement never touches one row twice.
 */
export class Batcher<K, I, O> {
  readonly #run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Pending<K, I, O>[] = [];
  #scheduled = false;
  #inFlight = 0;

  constructor(run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>, maxBatch = 500, maxInFlight = 2) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  /** Resolves with this key's result (undefined when the batch returned none for it). */
  load(key: K, input: I): Promise<O | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, input, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0 || this.#inFlight >= this.#maxInFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      const batch: Pending<K, I, O>[] = [];
      const rest: Pending<K, I, O>[] = [];
      const seen = new Set<K>();
      for (const item of this.#queue) {
        if (batch.length < this.#maxBatch && !seen.has(item.key)) {
          seen.add(item.key);
          batch.push(item);
        } else rest.push(item);
      }
      this.#queue = rest;
      this.#inFlight++;
      // Two batches may run at once: two statements on one row are serialized by its row lock.
      this.#run(batch.map(({ key, input }) => ({ key, input })))
        .then(
          (results) => {
            for (const item of batch) item.resolve(results.get(item.key));
          },
          (error) => {
            for (const item of batch) item.reject(error);
          },
        )
        .finally(() => {
          this.#inFlight--;
          this.#schedule();
        });
    }
  }
}
