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

/** A row of `list`: with its sealed secret, for the API to tell whether it still opens, never to show. */
export interface WebhookListRow extends WebhookRow {
  readonly secret_cipher: Buffer;
}

/** What `PATCH /webhooks/{id}` changes: null keeps the stored value. */
export interface WebhookUpdate {
  readonly id: string;
  readonly url: string | null;
  readonly events: readonly string[] | null;
}

export interface WebhookInsert {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  /** The secret sealed with the keyring, bound to `id`. */
  readonly secretCipher: Buffer;
  readonly createdAt: Date;
}

const COLUMNS = "id, url, events, source, created_at";
const INSERT_ORDER = ["id", "url", "events", "secretCipher", "createdAt"] as const;

/** The statements of `webhook` (docs/lifecycle.md, "Webhook subscriptions"). */
export function webhookSql(tables: Tables) {
  const webhook = qualifiedName(tables.webhook);
  return {
    /** `POST /webhooks`. Row: {@link WebhookRow}. */
    insert: statement<WebhookInsert>(
      INSERT_ORDER,
      (p) => `INSERT INTO ${webhook} (id, url, events, secret_cipher, source, created_at)
VALUES (${p.id}, ${p.url}, ${p.events}::text[], ${p.secretCipher}, 'api', ${p.createdAt}) RETURNING ${COLUMNS}`,
    ),

    /** `GET /webhooks`, oldest first. Rows: {@link WebhookListRow}. */
    list: statement<Record<never, never>>(
      [],
      () => `SELECT ${COLUMNS}, secret_cipher FROM ${webhook} ORDER BY created_at, id`,
    ),

    /** How many subscriptions there are. Row: `n`. */
    count: statement<Record<never, never>>([], () => `SELECT count(*)::int AS n FROM ${webhook}`),

    /**
     * Taken before `count` and `insert` in one transaction, so that parallel creates cannot each
     * see room for one more and pass the cap together. SHARE ROW EXCLUSIVE conflicts with itself
     * and with writes, not with reads: events keep being fanned out meanwhile.
     */
    lockForInsert: statement<Record<never, never>>([], () => `LOCK TABLE ${webhook} IN SHARE ROW EXCLUSIVE MODE`),
    ...byIdStatements(webhook),
    ...envStatements(webhook),
  };
}

/** `PATCH` and `DELETE /webhooks/{id}`: they change the subscriptions made through the API only. */
function byIdStatements(webhook: string) {
  return {
    /**
     * `PATCH /webhooks/{id}`: changes the URL or the events of a subscription made through the API,
     * keeping its id, secret and `created_at`. Row: {@link WebhookRow} and `updated` — none when
     * there is no such subscription, `updated` false for the one `OTP_WEBHOOK_URL` configures.
     */
    update: statement<WebhookUpdate>(
      ["id", "url", "events"],
      (p) => `WITH u AS (UPDATE ${webhook} SET url = COALESCE(${p.url}, url),
    events = COALESCE(${p.events}::text[], events)
  WHERE id = ${p.id} AND source = 'api' RETURNING ${COLUMNS})
SELECT ${COLUMNS}, true AS updated FROM u
UNION ALL SELECT ${COLUMNS}, false FROM ${webhook} WHERE id = ${p.id} AND NOT EXISTS (SELECT 1 FROM u)`,
    ),

    /**
     * `DELETE /webhooks/{id}`: deletes a subscription made through the API. Row: `source` (null:
     * no such subscription) and `deleted` (false for the one `OTP_WEBHOOK_URL` configures).
     */
    remove: statement<{ id: string }>(
      ["id"],
      (p) => `WITH d AS (DELETE FROM ${webhook} WHERE id = ${p.id} AND source = 'api' RETURNING id)
SELECT (SELECT source FROM ${webhook} WHERE id = ${p.id}) AS source, EXISTS (SELECT 1 FROM d) AS deleted`,
    ),
  };
}

/** The subscription `OTP_WEBHOOK_URL` configures, written by each API start. */
function envStatements(webhook: string) {
  return {
    /**
     * The subscription of `OTP_WEBHOOK_URL`, kept equal to the variables at every start. It keeps
     * its `created_at` (from when it wants events) unless its URL or events change.
     */
    upsertEnv: statement<WebhookInsert>(
      INSERT_ORDER,
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
