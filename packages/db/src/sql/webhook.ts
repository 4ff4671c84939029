import type { Tables } from "../schema.js";
import { qualifiedName, statement } from "./statement.js";

/** A webhook subscription as `GET /webhooks` shows it: never its secret. */
export interface WebhookRow {
  readonly id: string;
  readonly url: string;
  readonly events: string[];
  readonly source: "api" | "env";
  readonly created_at: Date;
}

export interface WebhookInsert {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  /** The secret sealed with the keyring, bound to `id`. */
  readonly secretCipher: Buffer;
  readonly createdAt: Date;
}

/** The statements of `webhook` (docs/lifecycle.md, "Webhook subscriptions"). */
export function webhookSql(tables: Tables) {
  const webhook = qualifiedName(tables.webhook);
  const columns = "id, url, events, source, created_at";
  const insertOrder = ["id", "url", "events", "secretCipher", "createdAt"] as const;
  return {
    /** `POST /webhooks`. Row: {@link WebhookRow}. */
    insert: statement<WebhookInsert>(
      insertOrder,
      (p) => `INSERT INTO ${webhook} (id, url, events, secret_cipher, source, created_at)
VALUES (${p.id}, ${p.url}, ${p.events}::text[], ${p.secretCipher}, 'api', ${p.createdAt}) RETURNING ${columns}`,
    ),

    /** `GET /webhooks`, oldest first. Rows: {@link WebhookRow}. */
    list: statement<Record<never, never>>([], () => `SELECT ${columns} FROM ${webhook} ORDER BY created_at, id`),

    /** How many subscriptions there are. Row: `n`. */
    count: statement<Record<never, never>>([], () => `SELECT count(*)::int AS n FROM ${webhook}`),

    /**
     * Taken before `count` and `insert` in one transaction, so that parallel creates cannot each
     * see room for one more and pass the cap together. SHARE ROW EXCLUSIVE conflicts with itself
     * and with writes, not with reads: events keep being fanned out meanwhile.
     */
    lockForInsert: statement<Record<never, never>>([], () => `LOCK TABLE ${webhook} IN SHARE ROW EXCLUSIVE MODE`),

    /**
     * `DELETE /webhooks/{id}`: deletes a subscription made through the API. Row: `source` (null:
     * no such subscription) and `deleted` (false for the one `OTP_WEBHOOK_URL` configures).
     */
    remove: statement<{ id: string }>(
      ["id"],
      (p) => `WITH d AS (DELETE FROM ${webhook} WHERE id = ${p.id} AND source = 'api' RETURNING id)
SELECT (SELECT source FROM ${webhook} WHERE id = ${p.id}) AS source, EXISTS (SELECT 1 FROM d) AS deleted`,
    ),

    /**
     * The subscription of `OTP_WEBHOOK_URL`, kept equal to the variables at every start. It keeps
     * its `created_at` (from when it wants events) unless its URL or events change.
     */
    upsertEnv: statement<WebhookInsert>(
      insertOrder,
      (p) => `INSERT INTO ${webhook} AS w (id, url, events, secret_cipher, source, created_at)
VALUES (${p.id}, ${p.url}, ${p.events}::text[], ${p.secretCipher}, 'env', ${p.createdAt})
ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, secret_cipher = excluded.secret_cipher,
  source = 'env', created_at = CASE WHEN w.url = excluded.url AND w.events = excluded.events THEN w.created_at
    ELSE excluded.created_at END`,
    ),

    /** Removes the `OTP_WEBHOOK_URL` subscription once the variable is unset. */
    removeEnv: statement<{ id: string }>(["id"], (p) => `DELETE FROM ${webhook} WHERE id = ${p.id} AND source = 'env'`),
  };
}

export type WebhookSql = ReturnType<typeof webhookSql>;
