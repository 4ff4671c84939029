import type pg from "pg";

export type DeliveryStatus = "pending" | "delivered" | "failed" | "expired";

export interface OtpDelivery {
  readonly status: DeliveryStatus;
  readonly expireAt: Date;
}

export interface RecordInput {
  /** The status this attempt (or decision) leads to; `pending` for a failure that will be retried. */
  readonly status: DeliveryStatus;
  /** True when an attempt was made (the provider was called, or DUMMY recorded one). */
  readonly attempted: boolean;
  /** Short error or note; null leaves the previous one. */
  readonly error: string | null;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The delivery columns of the `otp` table. Every write is idempotent and monotonic: `delivered`
 * is never overwritten; `failed` and `expired` are only reached from `pending`; a successful
 * attempt wins over `failed`/`expired` written by a concurrent duplicate (it did reach the user).
 */
export class StatusStore {
  readonly #pool: pg.Pool;
  readonly #table: string;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#table = `${quote(schema)}.otp`;
  }

  async lookup(otpId: string): Promise<OtpDelivery | undefined> {
    const result = await this.#pool.query<{ delivery_status: DeliveryStatus; expire_at: Date }>(
      `SELECT delivery_status, expire_at FROM ${this.#table} WHERE id = $1`,
      [otpId],
    );
    const row = result.rows[0];
    return row ? { status: row.delivery_status, expireAt: row.expire_at } : undefined;
  }

  /** Records an attempt or a decision; resolves with the status the row has afterwards (undefined: no row). */
  async record(otpId: string, input: RecordInput): Promise<DeliveryStatus | undefined> {
    const result = await this.#pool.query<{ delivery_status: DeliveryStatus }>(
      `UPDATE ${this.#table} SET
         delivery_attempts = delivery_attempts + $2,
         delivery_status = CASE
           WHEN delivery_status = 'delivered' THEN 'delivered'
           WHEN $3::text = 'delivered' OR delivery_status = 'pending' THEN $3::text
           ELSE delivery_status END,
         delivered_at = CASE
           WHEN $3::text = 'delivered' AND delivery_status <> 'delivered' THEN now()
           ELSE delivered_at END,
         delivery_last_error = CASE
           WHEN delivery_status = 'delivered' OR $4::text IS NULL THEN delivery_last_error
           ELSE $4::text END
       WHERE id = $1
       RETURNING delivery_status`,
      [otpId, input.attempted ? 1 : 0, input.status, input.error],
    );
    return result.rows[0]?.delivery_status;
  }

  /** For a replay from the dead-letter queue: `failed` goes back to `pending` unless the code has expired. */
  async reopen(otpId: string): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE ${this.#table} SET delivery_status = 'pending'
       WHERE id = $1 AND delivery_status = 'failed' AND expire_at > now()`,
      [otpId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
  }
}
