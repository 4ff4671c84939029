import type { Log } from "@otp/broker";
import type { OutboxSql } from "@otp/db";
import type pg from "pg";

export interface DeleteBatcherOptions {
  /** How long an id waits for companions before its batch is sent. */
  readonly flushMs?: number;
  /** A batch this large is sent at once. */
  readonly maxBatch?: number;
  /** Ids kept for a retry while the database is unreachable; beyond this the relay republishes. */
  readonly maxPending?: number;
}

/**
 * Deletes confirmed outbox rows in batches (`DELETE ... WHERE id = ANY($1)`), one statement per
 * ~20 ms or 500 ids instead of one per request. An id whose delete fails is retried; if it is lost
 * anyway (crash, long outage) the relay publishes that event again, which at-least-once allows.
 */
export class DeleteBatcher {
  readonly #pool: pg.Pool;
  readonly #sql: OutboxSql;
  readonly #log: Log;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #maxPending: number;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #failing = false;

  constructor(pool: pg.Pool, sql: OutboxSql, log: Log, options: DeleteBatcherOptions = {}) {
    this.#pool = pool;
    this.#sql = sql;
    this.#log = log;
    this.#flushMs = options.flushMs ?? 20;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxPending = options.maxPending ?? 100_000;
  }

  add(id: string): void {
    if (this.#pending.length >= this.#maxPending) return;
    this.#pending.push(id);
    if (this.#pending.length >= this.#maxBatch) this.#schedule(0);
    else this.#schedule(this.#flushMs);
  }

  /** Sends everything pending now and resolves when done (or failed: the ids are kept). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#running.then(() => this.#sendAll());
    return this.#running;
  }

  #schedule(ms: number): void {
    if (this.#timer && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.flush(), ms);
    this.#timer.unref();
  }

  async #sendAll(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      try {
        await this.#pool.query(this.#sql.deletePublished({ ids: batch }));
        if (this.#failing) this.#log.info({}, "deleting published outbox rows works again");
        this.#failing = false;
      } catch (error) {
        this.#pending.unshift(...batch.slice(0, this.#maxPending - this.#pending.length));
        if (!this.#failing) this.#log.warn({ err: error }, "cannot delete published outbox rows; retrying");
        this.#failing = true;
        this.#schedule(1_000);
        return;
      }
    }
  }
}
