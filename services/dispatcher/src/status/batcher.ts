interface Pending<K, I, O> {
  readonly key: K;
  readonly input: I;
  readonly resolve: (o: O | undefined) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * How long a batch may go unanswered before its callers are told it failed and its slot is freed.
 * A batch's statement (a few hundred rows by primary key) takes milliseconds; one still unanswered
 * after this long is stuck on a connection that will not answer (a server or network gone without
 * a reset). Without a bound, two such batches would hold both slots, and every delivery of every
 * channel would wait behind them for as long as the socket takes to give up. Shorter than the
 * pool's query timeout (packages/db/src/pool.ts), so that a delivery's status step is retried
 * (holdUntilDone), on another connection, well before that timeout frees the stuck one.
 */
export const BATCH_TIMEOUT_MS = 10_000;

/** A batch that got no answer within the batcher's timeout: its calls may be made again. */
export class BatchTimeoutError extends Error {
  override readonly name = "BatchTimeoutError";
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
 *
 * A batch unanswered after `timeoutMs` fails its calls with a BatchTimeoutError and frees its slot;
 * its statement may still complete later, unheeded, so the statements must be safe to repeat (the
 * status store's are: docs/delivery.md, "Delivery status").
 */
export class Batcher<K, I, O> {
  readonly #run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  #queue: Pending<K, I, O>[] = [];
  #scheduled = false;
  #inFlight = 0;
  /**
   * Batches given up on (timed out) whose statements still run. New batches start only while these
   * and the live ones are fewer than twice `maxInFlight`: a database slow but alive would otherwise
   * get more statements every timeout, each queueing behind the row locks of the last, until the
   * pool's connections all went to them.
   */
  #orphans = 0;

  constructor(
    run: (items: readonly { key: K; input: I }[]) => Promise<Map<K, O>>,
    maxBatch = 500,
    maxInFlight = 2,
    timeoutMs = BATCH_TIMEOUT_MS,
  ) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves with this key's result (undefined when the batch returned none for it). */
  load(key: K, input: I): Promise<O | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ key, input, resolve, reject });
      this.#schedule();
    });
  }

  #hasRoom(): boolean {
    return this.#inFlight < this.#maxInFlight && this.#inFlight + this.#orphans < 2 * this.#maxInFlight;
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0 || !this.#hasRoom()) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#hasRoom()) {
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
      this.#send(batch);
    }
  }

  /** Runs one batch in a slot, freed when the batch settles or times out, whichever comes first. */
  #send(batch: Pending<K, I, O>[]): void {
    this.#inFlight++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      clearTimeout(timer);
      this.#inFlight--;
      this.#schedule();
      return true;
    };
    const timer = setTimeout(() => {
      if (!close()) return;
      this.#orphans++;
      const error = new BatchTimeoutError(`no answer within ${this.#timeoutMs} ms`);
      for (const item of batch) item.reject(error);
    }, this.#timeoutMs);
    timer.unref(); // a stuck batch alone must not keep a stopping process alive
    const orphanSettled = () => {
      this.#orphans--;
      this.#schedule();
    };
    // Two batches may run at once (more statements, when one timed out and still runs): two
    // statements on one row are serialized by its row lock.
    this.#run(batch.map(({ key, input }) => ({ key, input }))).then(
      (results) => {
        if (close()) for (const item of batch) item.resolve(results.get(item.key));
        else orphanSettled();
      },
      (error) => {
        if (close()) for (const item of batch) item.reject(error);
        else orphanSettled();
      },
    );
  }
}
