import type { Logger } from "@otp/contracts";
import type { RetentionBatchRow, RetentionWindowsRow, Sql } from "@otp/db";
import type pg from "pg";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import { policyOfRow } from "../domain/policy/store.js";
import { PeriodicJob } from "../periodic.js";
import {
  CLOCK_SKEW_LIMIT_MS,
  excessClockSkewMs,
  longestWindowMinutes,
  retentionCutoff,
  streakReachMinutes,
} from "./window.js";

export interface RetentionOptions {
  readonly pool: pg.Pool;
  readonly sql: Sql;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the metrics are registered: the app's registry. */
  readonly registry: Registry;
  /** `OTP_RETENTION`; 0 = never delete. */
  readonly retentionSeconds: number;
  /** Pause between passes. */
  readonly intervalMs?: number;
  /** Rows deleted per statement: short transactions and small WAL bursts, so that creates and checks go on. */
  readonly batchSize?: number;
  /** Pause between two batches of a pass, to leave the disk to the requests. */
  readonly pauseMs?: number;
}

/**
 * What one pass deleted, per table; `skipped`: why it stopped before a short batch — `locked`,
 * another replica was deleting; `clock_skew`, the process clock was too far from the database's.
 */
export interface RetentionPass {
  readonly otp: number;
  readonly otpPolicy: number;
  readonly batches: number;
  readonly skipped: false | "locked" | "clock_skew";
}

/** The row `oldestAge` reads at scrape time. */
interface OldestRow {
  readonly expired_age: number;
  readonly created_age: number;
}

/**
 * Built-in retention (docs/operations.md, "Retention"): every API process runs passes that delete
 * the OTP rows whose code expired more than OTP_RETENTION ago — and more than the longest window
 * any count looks back, read again before each batch — with their `otp_policy` rows, a batch at a
 * time. A batch takes a tried advisory lock (`deleteBatch`), so replicas never delete at the same
 * moment; a pass that finds the lock taken ends, and leaves the work to the one holding it. A
 * pass whose process clock is more than a minute ahead of the database's deletes nothing
 * (`CLOCK_SKEW_LIMIT_MS`).
 */
export class Retention {
  readonly #o: Required<RetentionOptions>;
  readonly #deleted: Counter<"table">;
  readonly #skipped: Counter<"reason">;
  /** The scrape's `oldestAge` query while in flight: both gauges read the one row. */
  #oldest: Promise<OldestRow | undefined> | undefined;
  readonly #job: PeriodicJob;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: RetentionOptions) {
    this.#o = { intervalMs: 60_000, batchSize: 1_000, pauseMs: 100, ...options };
    const { registry, intervalMs, logger } = this.#o;
    this.#job = new PeriodicJob({ run: () => this.pass(), intervalMs, logger, failure: "retention pass failed" });
    this.#deleted = new Counter({
      name: "otp_retention_deleted_total",
      help: "Rows deleted by retention (OTP_RETENTION), by table (otp, otp_policy).",
      labelNames: ["table"] as const,
      registers: [registry],
    });
    this.#skipped = new Counter({
      name: "otp_retention_skipped_total",
      help:
        "Retention passes ended on purpose before a batch, by reason (clock_skew: the process clock was more " +
        `than ${CLOCK_SKEW_LIMIT_MS / 1000} s ahead of the database's, compared before each batch).`,
      labelNames: ["reason"] as const,
      registers: [registry],
    });
    this.#skipped.inc({ reason: "clock_skew" }, 0);
    scrapedGauge(
      registry,
      "otp_oldest_expiry_age_seconds",
      "Seconds since the earliest expire_at of any otp row (the code retention deletes next expired that long " +
        "ago), counted at scrape time; 0 when the table is empty or no code has expired.",
      async () => (await this.#readOldest())?.expired_age,
    );
    scrapedGauge(
      registry,
      "otp_oldest_row_age_seconds",
      "Deprecated, see otp_oldest_expiry_age_seconds: seconds since the otp row that expires first was created " +
        "(not the oldest row's age when a longer-lived code was created earlier), at scrape time; 0 when empty.",
      async () => (await this.#readOldest())?.created_age,
    );
  }

  start(): void {
    if (this.#o.retentionSeconds <= 0) return;
    this.#job.start();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#job.stop();
  }

  /** One pass: batches until one comes back short. Does nothing under OTP_RETENTION=0. */
  async pass(): Promise<RetentionPass> {
    const { pool, sql, batchSize: limit, retentionSeconds } = this.#o;
    const done: { -readonly [K in keyof RetentionPass]: RetentionPass[K] } = {
      otp: 0,
      otpPolicy: 0,
      batches: 0,
      skipped: false,
    };
    const started = Date.now();
    while (retentionSeconds > 0 && !this.#stopping) {
      const cutoff = await this.#cutoff();
      if (!cutoff) {
        done.skipped = "clock_skew";
        break;
      }
      const { rows } = await pool.query<RetentionBatchRow>(sql.retention.deleteBatch({ cutoff, limit }));
      const row = rows[0];
      if (!row?.locked) {
        done.skipped = "locked";
        break;
      }
      done.batches++;
      done.otp += row.otp;
      done.otpPolicy += row.otp_policy;
      this.#deleted.inc({ table: "otp" }, row.otp);
      this.#deleted.inc({ table: "otp_policy" }, row.otp_policy);
      if (row.otp < limit) break;
      await this.#pause();
    }
    if (done.otp > 0) this.#o.logger.info({ ...done, ms: Date.now() - started }, "retention deleted old otp rows");
    return done;
  }

  /**
   * Read before every batch, so that a rule or policy set during a long pass is honoured at once;
   * undefined, counted and logged, when the process clock is too far from the database's.
   */
  async #cutoff(): Promise<Date | undefined> {
    const { pool, sql, clock, retentionSeconds, logger } = this.#o;
    const clockNow = clock();
    const { rows } = await pool.query<RetentionWindowsRow>(sql.retention.windows({ now: clockNow }));
    const windows = rows[0];
    if (!windows) throw new Error("retention: the windows statement returned no row");
    const skewMs = excessClockSkewMs(clockNow, windows.db_now);
    if (skewMs !== undefined) {
      this.#skipped.inc({ reason: "clock_skew" });
      const limitSeconds = CLOCK_SKEW_LIMIT_MS / 1000;
      logger.warn(
        { clockAheadSeconds: Math.round(skewMs / 1000), limitSeconds },
        "retention pass skipped: the process clock is ahead of the database's by more than the limit",
      );
      return undefined;
    }
    const now = new Date(Math.min(clockNow.getTime(), windows.db_now.getTime()));
    const policies = windows.policies.map(policyOfRow);
    const streak = streakReachMinutes(now, policies, windows.streak_since);
    return retentionCutoff(now, retentionSeconds, longestWindowMinutes(windows.limit_minutes, policies, streak));
  }

  #readOldest(): Promise<OldestRow | undefined> {
    const { pool, sql, clock } = this.#o;
    this.#oldest ??= pool
      .query<OldestRow>(sql.retention.oldestAge({ now: clock() }))
      .then(({ rows }) => rows[0])
      .finally(() => {
        this.#oldest = undefined;
      });
    return this.#oldest;
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.#o.pauseMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A gauge set at scrape time from `read` (undefined: 0; never below 0). */
function scrapedGauge(registry: Registry, name: string, help: string, read: () => Promise<number | undefined>): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      try {
        this.set(Math.max(0, (await read()) ?? 0));
      } catch {
        // The database is down: the scrape still answers, with the last value.
      }
    },
  });
}
