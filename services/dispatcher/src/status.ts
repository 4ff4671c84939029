import type { DeliveryStatus } from "@otp/contracts";
import { statementName, tableNames } from "@otp/db";
import type pg from "pg";
import { Batcher } from "./batcher.js";

export interface OtpDelivery {
  readonly status: DeliveryStatus;
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
 * The delivery columns of the `otp` table. Every write is idempotent and monotonic: `delivered`
 * is never overwritten; `failed` and `expired` are only reached from `pending`; a successful
 * attempt wins over `failed`/`expired` written by a concurrent duplicate (it did reach the user).
 */
export class StatusStore {
  readonly #pool: pg.Pool;
  readonly #sql: Statements;
  readonly #lookups: Batcher<string, null, OtpDelivery>;
  readonly #records: Batcher<string, RecordInput, DeliveryStatus>;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#sql = statements(tableNames(schema).otp);
    this.#lookups = new Batcher((items) => this.#lookupMany(items.map((i) => i.key)));
    this.#records = new Batcher((items) => this.#recordMany(items));
  }

  /** The OTP's delivery status; undefined when there is no such row. (The expiry comes with the event.) */
  lookup(otpId: string): Promise<OtpDelivery | undefined> {
    return this.#lookups.load(otpId, null);
  }

  /** Records an attempt or a decision; resolves with the status the row has afterwards (undefined: no row). */
  record(otpId: string, input: RecordInput): Promise<DeliveryStatus | undefined> {
    return this.#records.load(otpId, input);
  }

  async #lookupMany(ids: readonly string[]): Promise<Map<string, OtpDelivery>> {
    const result = await this.#pool.query<{ id: string; delivery_status: DeliveryStatus }>({
      ...this.#sql.lookup,
      values: [ids],
    });
    return new Map(result.rows.map((r) => [r.id, { status: r.delivery_status }]));
  }

  async #recordMany(items: readonly { key: string; input: RecordInput }[]): Promise<Map<string, DeliveryStatus>> {
    const result = await this.#pool.query<{ id: string; delivery_status: DeliveryStatus }>({
      ...this.#sql.record,
      values: [
        items.map((i) => i.key),
        items.map((i) => (i.input.attempted ? 1 : 0)),
        items.map((i) => i.input.status),
        items.map((i) => i.input.error),
      ],
    });
    return new Map(result.rows.map((r) => [r.id, r.delivery_status]));
  }

  /** For a replay from the dead-letter queue: `failed` goes back to `pending` unless the code has expired. */
  async reopen(otpId: string): Promise<boolean> {
    const result = await this.#pool.query({ ...this.#sql.reopen, values: [otpId] });
    return (result.rowCount ?? 0) > 0;
  }

  /** The replay's copy was not confirmed: back to `failed`, which its dead letter still says. */
  async unreopen(otpId: string): Promise<void> {
    await this.#pool.query({ ...this.#sql.unreopen, values: [otpId] });
  }
}

interface Statement {
  readonly name: string;
  readonly text: string;
}

type Statements = Record<"lookup" | "record" | "reopen" | "unreopen", Statement>;

function prepared(purpose: string, text: string): Statement {
  return { name: statementName(purpose, text), text };
}

/**
 * The store's statements, built once per store: the text depends only on the table, and the name
 * (a hash of the text) would otherwise be recomputed for every batch on the hot path.
 */
function statements(table: string): Statements {
  return {
    lookup: prepared("status_lookup", `SELECT id, delivery_status FROM ${table} WHERE id = ANY($1::uuid[])`),
    record: prepared(
      "status_record",
      `UPDATE ${table} AS o SET
         delivery_attempts = o.delivery_attempts + v.inc,
         delivery_status = CASE
           WHEN o.delivery_status = 'delivered' THEN 'delivered'
           WHEN v.status = 'delivered' OR o.delivery_status = 'pending' THEN v.status
           ELSE o.delivery_status END,
         delivered_at = CASE
           WHEN v.status = 'delivered' AND o.delivery_status <> 'delivered' THEN now()
           ELSE o.delivered_at END,
         delivery_last_error = CASE
           WHEN o.delivery_status = 'delivered' OR v.err IS NULL THEN o.delivery_last_error
           ELSE v.err END
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS v(id, inc, status, err)
       WHERE o.id = v.id
       RETURNING o.id, o.delivery_status`,
    ),
    reopen: prepared(
      "status_reopen",
      `UPDATE ${table} SET delivery_status = 'pending'
       WHERE id = $1 AND delivery_status = 'failed' AND expire_at > now()`,
    ),
    unreopen: prepared(
      "status_unreopen",
      `UPDATE ${table} SET delivery_status = 'failed' WHERE id = $1 AND delivery_status = 'pending'`,
    ),
  };
}
