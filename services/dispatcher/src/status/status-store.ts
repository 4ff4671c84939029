import type { DeliveryStatus } from "@otp/contracts";
import { createTables, type OtpSql, otpSql } from "@otp/db";
import type pg from "pg";
import { Batcher } from "./batcher.js";

export interface OtpDelivery {
  readonly status: DeliveryStatus;
  /** The code can no longer be verified (closed, or dead of wrong checks): a delivery not yet made is dropped. */
  readonly canceled: boolean;
}

export interface RecordInput {
  /** The status this attempt (or decision) leads to; `pending` for a failure that will be retried. */
  readonly status: DeliveryStatus;
  /** True when an attempt was made (the provider was called, or DUMMY recorded one). */
  readonly attempted: boolean;
  /** Short error or note; null leaves the previous one. */
  readonly error: string | null;
}

/**
 * The delivery columns of the `otp` table, read and written in batches (the statements are in
 * packages/db/src/sql/otp-delivery.ts). Every write is idempotent and monotonic: `delivered` is
 * never overwritten; `failed`, `expired` and `canceled` are only reached from `pending`; a
 * successful attempt wins over `failed`/`expired` written by a concurrent duplicate (it did reach
 * the user). A write that makes an OTP `delivered` (the first time) or `failed` emits its lifecycle
 * event in the same statement (docs/lifecycle.md).
 */
export class StatusStore {
  readonly #pool: pg.Pool;
  readonly #sql: OtpSql;
  readonly #lookups: Batcher<string, null, OtpDelivery>;
  readonly #records: Batcher<string, RecordInput, DeliveryStatus>;
  readonly #maxFailures: number;

  /** `maxFailures`: OTP_MAX_CHECK_ATTEMPTS, for the events' `verification.attempts_left`. */
  constructor(pool: pg.Pool, schema: string, maxFailures: number) {
    this.#pool = pool;
    this.#maxFailures = maxFailures;
    this.#sql = otpSql(createTables(schema));
    this.#lookups = new Batcher((items) => this.#lookupMany(items.map((i) => i.key)));
    this.#records = new Batcher((items) => this.#recordMany(items));
  }

  /**
   * The OTP's delivery status and whether it was canceled; undefined when there is no such row.
   * (The expiry comes with the event.)
   */
  lookup(otpId: string): Promise<OtpDelivery | undefined> {
    return this.#lookups.load(otpId, null);
  }

  /** Records an attempt or a decision; resolves with the status the row has afterwards (undefined: no row). */
  record(otpId: string, input: RecordInput): Promise<DeliveryStatus | undefined> {
    return this.#records.load(otpId, input);
  }

  async #lookupMany(ids: readonly string[]): Promise<Map<string, OtpDelivery>> {
    const result = await this.#pool.query<{ id: string; delivery_status: DeliveryStatus; canceled: boolean }>(
      this.#sql.deliveryOf({ ids, maxFailures: this.#maxFailures }),
    );
    return new Map(result.rows.map((r) => [r.id, { status: r.delivery_status, canceled: r.canceled }]));
  }

  async #recordMany(items: readonly { key: string; input: RecordInput }[]): Promise<Map<string, DeliveryStatus>> {
    const result = await this.#pool.query<{ id: string; delivery_status: DeliveryStatus }>(
      this.#sql.recordDeliveries({
        ids: items.map((i) => i.key),
        increments: items.map((i) => (i.input.attempted ? 1 : 0)),
        statuses: items.map((i) => i.input.status),
        errors: items.map((i) => i.input.error),
        maxFailures: this.#maxFailures,
      }),
    );
    return new Map(result.rows.map((r) => [r.id, r.delivery_status]));
  }

  /** For a replay from the dead-letter queue: `failed` goes back to `pending` unless the code has expired. */
  async reopen(otpId: string): Promise<boolean> {
    const result = await this.#pool.query(this.#sql.reopenDelivery({ id: otpId }));
    return (result.rowCount ?? 0) > 0;
  }

  /** The replay's copy was not confirmed: back to `failed`, which its dead letter still says. */
  async unreopen(otpId: string): Promise<void> {
    await this.#pool.query(this.#sql.unreopenDelivery({ id: otpId }));
  }
}
