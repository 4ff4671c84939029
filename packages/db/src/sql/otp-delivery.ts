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
  /** `OTP_MAX_CHECK_ATTEMPTS`, for the events' `verification.attempts_left`; 0 = no limit. */
  readonly maxFailures: number;
}

/**
 * The delivery columns, written by the dispatcher in batches (prepared: they run per message).
 * Every write is idempotent and monotonic: `delivered` is never overwritten; `failed`, `expired`
 * and `canceled` are only reached from `pending`; a successful attempt wins over
 * `failed`/`expired` written by a concurrent duplicate (it did reach the user).
 *
 * `fn` names the service's SQL functions, `webhook` the subscriptions' table (see recordDeliveries).
 */
export function deliverySql(otp: string, fn: (name: string) => string, webhook: string) {
  return {
    /**
     * Rows: `id`, `delivery_status`, `canceled`: the code can no longer be verified, so a delivery
     * not yet made is dropped — closed for any reason (`DELETE /otp/{id}`, a resend that
     * superseded it, its own or a sibling's use under `OTP_SINGLE_USE`) or dead of its wrong
     * checks (`maxFailures`, `OTP_MAX_CHECK_ATTEMPTS`; 0 = no limit).
     */
    deliveryOf: prepared<{ ids: readonly string[]; maxFailures: number }>(
      "status_lookup",
      ["ids", "maxFailures"],
      (p) => `SELECT id, delivery_status,
         closed_at IS NOT NULL OR (${p.maxFailures}::int > 0 AND failed_checks >= ${p.maxFailures}::int) AS canceled
       FROM ${otp} WHERE id = ANY(${p.ids}::uuid[])`,
    ),
    recordDeliveries: recordDeliveries(otp, fn, webhook),
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

/**
 * Records a batch of attempts and decisions (rows: `id`, `delivery_status` after) and, in the same
 * statement and so the same transaction, emits the lifecycle events of the rows whose status it
 * changed (docs/lifecycle.md): `otp.delivered` the first time a row becomes `delivered`,
 * `otp.delivery_failed` when it becomes `failed`; a repeated write changes nothing and emits
 * nothing. The old statuses are read under FOR UPDATE (in id order, as every batch locks), so a
 * concurrent duplicate's write is seen, never a stale snapshot. `otp_event_data` reads the
 * statement's snapshot, from before this update: the event's `delivery` is overwritten with the
 * values just written. Without any subscription there is nothing to emit: the old statuses are not
 * read (no lock, no event data), and the write costs what it did before events existed.
 */
function recordDeliveries(otp: string, fn: (name: string) => string, webhook: string) {
  return prepared<RecordDeliveriesParams>(
    "status_record",
    ["ids", "increments", "statuses", "errors", "maxFailures"],
    (p) => `WITH v AS (
       SELECT * FROM unnest(${p.ids}::uuid[], ${p.increments}::int[], ${p.statuses}::text[], ${p.errors}::text[])
         AS v(id, inc, status, err)),
     old AS (SELECT o.id, o.delivery_status FROM ${otp} AS o
       WHERE o.id IN (SELECT id FROM v) AND EXISTS (SELECT 1 FROM ${webhook}) ORDER BY o.id FOR UPDATE),
     u AS (UPDATE ${otp} AS o SET
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
       FROM v LEFT JOIN old ON old.id = v.id
       WHERE o.id = v.id
       RETURNING o.id, o.delivery_status, o.delivery_attempts, o.delivered_at,
         CASE WHEN old.delivery_status IS NULL OR o.delivery_status = old.delivery_status THEN NULL
           WHEN o.delivery_status = 'delivered' THEN 'otp.delivered'
           WHEN o.delivery_status = 'failed' THEN 'otp.delivery_failed' END AS event)
     SELECT u.id, u.delivery_status,
       CASE WHEN u.event IS NULL THEN 0
         ELSE ${fn("otp_emit")}(u.event, u.id, now(),
           ${fn("otp_event_data")}(u.id, now(), ${p.maxFailures}::int) || jsonb_build_object('delivery',
             jsonb_build_object('status', u.delivery_status, 'attempts', u.delivery_attempts,
               'delivered_at', u.delivered_at))) END AS emitted
     FROM u`,
  );
}
