import { LOOKUP_WINDOW_SECONDS, type Logger } from "@otp/contracts";
import type { Sql } from "@otp/db";
import type pg from "pg";
import type { Clock } from "./clock.js";

export interface SweeperOptions {
  readonly pool: pg.Pool;
  readonly sql: Sql;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Pause between sweeps. */
  readonly intervalMs?: number;
  /** Rows deleted per statement: short transactions, so that vacuum keeps up. */
  readonly batchSize?: number;
}

/**
 * Deletes the counters nobody needs any more (docs/security.md, "Guessing"): a target's check
 * counter once it is forgotten (`expire_at` passed), lookup misses once out of their minute.
 * Every API process runs one; a replica that finds another sweeping the same table skips it (a
 * tried advisory lock in each delete), so they do not fight over the same rows.
 */
export class CounterSweeper {
  readonly #o: Required<SweeperOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: SweeperOptions) {
    this.#o = { intervalMs: 60_000, batchSize: 1_000, ...options };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.sweep()
        .then(() => {})
        .catch((error: unknown) => this.#o.logger.warn({ err: error }, "sweeping expired counters failed"))
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One sweep of both tables, in batches until a batch comes back short. Resolves to the rows deleted. */
  async sweep(): Promise<number> {
    const { pool, sql, clock, batchSize: limit } = this.#o;
    const now = clock();
    const since = new Date(now.getTime() - LOOKUP_WINDOW_SECONDS * 1000);
    let deleted = 0;
    for (const next of [() => sql.checkBudget.sweep({ now, limit }), () => sql.lookupMiss.sweep({ since, limit })]) {
      for (;;) {
        const { rowCount } = await pool.query(next());
        deleted += rowCount ?? 0;
        if ((rowCount ?? 0) < limit) break;
      }
    }
    if (deleted > 0) this.#o.logger.debug({ deleted }, "swept expired guessing counters");
    return deleted;
  }
}
