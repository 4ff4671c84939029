/**
 * Gathers calls made in the same turn of the event loop into one batch. With many messages in
 * flight, one query for a hundred OTPs costs about what one query for one costs; a round trip per
 * message would make PostgreSQL the ceiling of delivery throughput.
 *
 * A key appears at most once per batch (a second call with the same key goes to another batch), so
 * a batch's statement never touches one row twice.
 */
export class Batcher<K, I, O> {
  readonly #run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>;
  readonly #maxBatch: number;
  #queue: { key: K; input: I; resolve: (o: O | undefined) => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;

  constructor(run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>, maxBatch = 500) {
    this.#run = run;
    this.#maxBatch = maxBatch;
  }

  /** Resolves with this key's result (undefined when the batch returned none for it). */
  load(key: K, input: I): Promise<O | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, input, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    let queue = this.#queue;
    this.#queue = [];
    while (queue.length > 0) {
      const batch: typeof queue = [];
      const rest: typeof queue = [];
      const seen = new Set<K>();
      for (const item of queue) {
        if (batch.length < this.#maxBatch && !seen.has(item.key)) {
          seen.add(item.key);
          batch.push(item);
        } else rest.push(item);
      }
      queue = rest;
      // Batches may run concurrently: two statements on one row are serialized by its row lock.
      this.#run(batch.map(({ key, input }) => ({ key, input }))).then(
        (results) => {
          for (const item of batch) item.resolve(results.get(item.key));
        },
        (error) => {
          for (const item of batch) item.reject(error);
        },
      );
    }
  }
}
