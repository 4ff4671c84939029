import type { DeliveryStatus } from "@otp/contracts";
import { prepared } from "./statement.js";

/** One delivery attempt or decision, for {@link deliverySql}'s `recordDeliveries`, as parallel arrays. */
export interface RecordDeliveriesParams {
  readonly ids: readonly string[];
  /** 1 when an attempt was made, else 0. */
  readonly increments: readonly number[];
  readonly statuses: readonly DeliveryStatus[];
  /** Null leaves the previous error. */
  readonly errors: readonly (string | null)[];
}

/**
 * The delivery columns, written by the dispatcher in batches (prepared: they run per message).
 * Every write is idempotent and monotonic: `delivered` is never overwritten; `failed` and
 * `expired` are only reached from `pending`; a successful attempt wins over `failed`/`expired`
 * written by a concurrent duplicate (it did reach the user). Rows: `id`, `delivery_status`.
 */
export function deliverySql(otp: string) {
  return {
    deliveryOf: prepared<{ ids: readonly string[] }>(
      "status_lookup",
      ["ids"],
      (p) => `SELECT id, delivery_status FROM ${otp} WHERE id = ANY(${p.ids}::uuid[])`,
    ),
    recordDeliveries: prepared<RecordDeliveriesParams>(
      "status_record",
      ["ids", "increments", "statuses", "errors"],
      (p) => `UPDATE ${otp} AS o SET
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
       FROM unnest(${p.ids}::uuid[], ${p.increments}::int[], ${p.statuses}::text[], ${p.errors}::text[]) AS v(id, inc, status, err)
       WHERE o.id = v.id
       RETURNING o.id, o.delivery_status`,
    ),
    /** A replay from the dead-letter queue: `failed` goes back to `pending` unless the code has expired. */
    reopenDelivery: prepared<{ id: string }>(
      "status_reopen",
      ["id"],
      (p) => `UPDATE ${otp} SET delivery_status = 'pending'
       WHERE id = ${p.id} AND delivery_status = 'failed' AND expire_at > now()`,
    ),
    /** The replay's copy was not confirmed: back to `failed`, which its dead letter still says. */
    unreopenDelivery: prepared<{ id: string }>(
      "status_unreopen",
      ["id"],
      (p) => `UPDATE ${otp} SET delivery_status = 'failed' WHERE id = ${p.id} AND delivery_status = 'pending'`,
    ),
  };
}
