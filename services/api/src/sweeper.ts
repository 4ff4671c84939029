import { LOOKUP_WINDOW_SECONDS, type Logger } from "@otp/contracts";
import type { Sql } from "@otp/db";
import type pg from "pg";
import type { Clock } from "./clock.js";
import { PeriodicJob } from "./periodic.js";

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
  readonly #job: PeriodicJob;

  constructor(options: SweeperOptions) {
    this.#o = { intervalMs: 60_000, batchSize: 1_000, ...options };
    const { intervalMs, logger } = this.#o;
    this.#job = new PeriodicJob({
      run: () => this.sweep(),
      intervalMs,
      logger,
      failure: "sweeping expired counters failed",
    });
  }

  start(): void {
    this.#job.start();
  }

  stop(): Promise<void> {
    return this.#job.stop();
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

export interface ExpirySweeperOptions extends SweeperOptions {
  /** `OTP_MAX_CHECK_ATTEMPTS`: a code dead of its failures had its last event already. */
  readonly maxFailures: number;
}

/**
 * How far back a process looks at its first sweep at least; further when the sweeps recorded in
 * the database stopped earlier (every API process was down longer).
 */
export const EXPIRY_CATCH_UP_MS = 60 * 60_000;
/** Each sweep looks this far behind the last one: a create that commits late is not skipped. */
const EXPIRY_OVERLAP_MS = 60_000;

/**
 * Emits `otp.expired` (docs/lifecycle.md, "Events") once per code that ran out unverified and not
 * canceled, within 30 s of its `expire_at` (every 5 s by default), in batches of 100, each batch
 * one statement (`otp_sweep_expired`) that marks its codes `expiry_emitted` with their events. It
 * does nothing while no subscription wants the event; an expiry from before the oldest such
 * subscription is nobody's event, so subscribing later brings no flood of old ones. Replicas take
 * turns (a tried advisory lock); the codes' marks keep the event to one per OTP whoever sends it.
 *
 * Each complete sweep that a subscription wanted is recorded (`expiry_sweep`); a process's first
 * sweep starts an hour back, or where the recorded sweeps stopped if that is earlier: expiries
 * while every API process was down are emitted, however long the outage (within `OTP_RETENTION`,
 * which removes older rows). A long catch-up goes batch after batch from where the last stopped.
 */
export class ExpirySweeper {
  readonly #o: Required<ExpirySweeperOptions>;
  readonly #job: PeriodicJob;
  /** The `now` of this process's last complete sweep; undefined before its first. */
  #sweptTo: Date | undefined;

  constructor(options: ExpirySweeperOptions) {
    this.#o = { intervalMs: 5_000, batchSize: 100, ...options };
    const { intervalMs, logger } = this.#o;
    this.#job = new PeriodicJob({
      run: () => this.sweep(),
      intervalMs,
      logger,
      failure: "emitting otp.expired failed",
    });
  }

  start(): void {
    this.#job.start();
  }

  stop(): Promise<void> {
    return this.#job.stop();
  }

  /** One sweep, batch after batch; resolves to the codes marked, or -1 when another replica held the turn. */
  async sweep(): Promise<number> {
    const { pool, sql, clock, batchSize: limit, maxFailures } = this.#o;
    const now = clock();
    const sweptTo = this.#sweptTo ?? (await this.#firstFrom(now));
    let from = new Date(sweptTo.getTime() - EXPIRY_OVERLAP_MS);
    let marked = 0;
    let wanted = false;
    for (;;) {
      const { rows } = await pool.query<{ n: number; last_at: Date | null; wanted: boolean }>(
        sql.otpLifecycle.emitExpired({ from, now, maxFailures, limit }),
      );
      const row = rows[0] ?? { n: 0, last_at: null, wanted: false };
      if (row.n < 0) return -1;
      marked += row.n;
      wanted = row.wanted;
      if (row.n < limit || row.last_at === null) break;
      // The next batch from where this one stopped, less the overlap: its marked codes are skipped.
      from = new Date(row.last_at.getTime() - EXPIRY_OVERLAP_MS);
    }
    this.#sweptTo = now;
    // Without a subscription there is nothing to catch up later: no write at all then.
    if (wanted) await pool.query(sql.otpLifecycle.recordExpirySweep({ now }));
    if (marked > 0) this.#o.logger.debug({ marked }, "emitted otp.expired");
    return marked;
  }

  /** An hour back, or where the recorded sweeps stopped if that is earlier. */
  async #firstFrom(now: Date): Promise<Date> {
    const hourBack = new Date(now.getTime() - EXPIRY_CATCH_UP_MS);
    const { rows } = await this.#o.pool.query<{ swept_to: Date }>(this.#o.sql.otpLifecycle.expirySweptTo({}));
    const recorded = rows[0]?.swept_to;
    return recorded !== undefined && recorded < hourBack ? recorded : hourBack;
  }
}
