import type { Logger } from "@otp/contracts";
import type { RetentionBatchRow, RetentionWindowsRow, Sql } from "@otp/db";
import type pg from "pg";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import { policyOfRow } from "../domain/policy/store.js";
import { PeriodicJob } from "../periodic.js";
import { longestWindowMinutes, retentionCutoff, streakReachMinutes } from "./window.js";

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

/** What one pass deleted, per table; `skipped` when another replica was deleting. */
export interface RetentionPass {
  readonly otp: number;
  readonly otpPolicy: number;
  readonly batches: number;
  readonly skipped: boolean;
}

/**
 * Built-in retention (docs/operations.md, "Retention"): every API process runs passes that delete
 * the OTP rows whose code expired more than OTP_RETENTION ago — and more than the longest window
 * any count looks back, read again before each batch — with their `otp_policy` rows, a batch at a
 * time. A batch takes a tried advisory lock (`deleteBatch`), so replicas never delete at the same
 * moment; a pass that finds the lock taken ends, and leaves the work to the one holding it.
 */
export class Retention {
  readonly #o: Required<RetentionOptions>;
  readonly #deleted: Counter<"table">;
  readonly #job: PeriodicJob;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: RetentionOptions) {
    this.#o = { intervalMs: 60_000, batchSize: 1_000, pauseMs: 100, ...options };
    const { registry, pool, sql, clock, intervalMs, logger } = this.#o;
    this.#job = new PeriodicJob({ run: () => this.pass(), intervalMs, logger, failure: "retention pass failed" });
    this.#deleted = new Counter({
      name: "otp_retention_deleted_total",
      help: "Rows deleted by retention (OTP_RETENTION), by table (otp, otp_policy).",
      labelNames: ["table"] as const,
      registers: [registry],
    });
    new Gauge({
      name: "otp_oldest_row_age_seconds",
      help: "Age of the otp row retention deletes next (the earliest to expire), counted at scrape time; 0 when empty.",
      registers: [registry],
      async collect() {
        try {
          const { rows } = await pool.query<{ age: number }>(sql.retention.oldestAge({ now: clock() }));
          this.set(Math.max(0, rows[0]?.age ?? 0));
        } catch {
          // The database is down: the scrape still answers, with the last value.
        }
      },
    });
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
    const done = { otp: 0, otpPolicy: 0, batches: 0, skipped: false };
    const started = Date.now();
    while (retentionSeconds > 0 && !this.#stopping) {
      const cutoff = await this.#cutoff();
      const { rows } = await pool.query<RetentionBatchRow>(sql.retention.deleteBatch({ cutoff, limit }));
      const row = rows[0];
      if (!row?.locked) {
        done.skipped = true;
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

  /** Read before every batch, so that a rule or policy set during a long pass is honoured at once. */
  async #cutoff(): Promise<Date> {
    const { pool, sql, clock, retentionSeconds } = this.#o;
    const { rows } = await pool.query<RetentionWindowsRow>(sql.retention.windows({}));
    const windows = rows[0] ?? { limit_minutes: null, policies: [], streaks: [] };
    const policies = windows.policies.map(policyOfRow);
    const now = clock();
    const streaks = windows.streaks.map((s) => ({ since: new Date(s.since), until: new Date(s.until) }));
    const longest = longestWindowMinutes(windows.limit_minutes, policies, streakReachMinutes(now, policies, streaks));
    return retentionCutoff(now, retentionSeconds, longest);
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
