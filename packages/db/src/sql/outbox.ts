import { WEBHOOK_ROUTE } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { prepared, qualifiedName, statement } from "./statement.js";

/** A claimed outbox row: the event id, its routing key and its JSON. */
export interface OutboxRow {
  readonly id: string;
  readonly channel: string;
  readonly body: string;
}

/**
 * The statements of the `outbox` table. The OTP's create statement writes its rows (see `otp.ts`);
 * a row is deleted once RabbitMQ has confirmed its event, so the rows here are the unpublished ones.
 */
export function outboxSql({ outbox: table }: Tables) {
  const outbox = qualifiedName(table);
  return {
    /**
     * The relay's claim: the oldest rows, by their state with FOR UPDATE SKIP LOCKED, never with an
     * id cursor (ids are handed out at insert, not at commit, so a cursor would skip late commits).
     * Rows: {@link OutboxRow}.
     */
    claim: statement<{ createdBefore: Date; limit: number }>(
      ["createdBefore", "limit"],
      // Webhook rows (`otp_emit`, docs/webhooks.md) have no after-commit publish to wait for: the
      // relay takes them at its next pass instead of after the grace.
      (p) => `SELECT id, channel, event::text AS body FROM ${outbox}
WHERE created_at < ${p.createdBefore} OR channel = '${WEBHOOK_ROUTE}'
ORDER BY created_at LIMIT ${p.limit} FOR UPDATE SKIP LOCKED`,
    ),

    /** Deletes the rows of confirmed events; prepared, as the API sends it many times a second. */
    deletePublished: prepared<{ ids: readonly string[] }>(
      "outbox_delete",
      ["ids"],
      (p) => `DELETE FROM ${outbox} WHERE id = ANY(${p.ids}::uuid[])`,
    ),

    /** Counts a failed publish against each row, with its error, for operators. */
    recordFailures: statement<{ ids: readonly string[]; errors: readonly string[] }>(
      ["ids", "errors"],
      (p) => `UPDATE ${outbox} AS o SET relay_attempts = o.relay_attempts + 1, last_error = f.error
FROM unnest(${p.ids}::uuid[], ${p.errors}::text[]) AS f(id, error) WHERE o.id = f.id`,
    ),

    /** The backlog for the metrics. Row: `n`. */
    count: statement<Record<never, never>>([], () => `SELECT count(*)::int AS n FROM ${outbox}`),
  };
}

export type OutboxSql = ReturnType<typeof outboxSql>;
