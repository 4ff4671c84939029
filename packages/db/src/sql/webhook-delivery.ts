import type { Tables } from "../schema.js";
import { prepared, qualifiedName } from "./statement.js";

/** A subscription as the dispatcher sends to it: where, and the sealed secret it signs with. */
export interface SubscriptionRow {
  readonly url: string;
  readonly secret_cipher: Buffer;
}

/**
 * What the dispatcher reads of the `webhook` table (docs/webhooks.md): one subscription by id, for
 * each webhook it sends (cached a few seconds per process). The API writes the table.
 */
export function webhookDeliverySql({ webhook: table }: Tables) {
  const webhook = qualifiedName(table);
  return {
    /** Rows: {@link SubscriptionRow}; none when the subscription was deleted. */
    subscriptionOf: prepared<{ id: string }>(
      "webhook_subscription",
      ["id"],
      (p) => `SELECT url, secret_cipher FROM ${webhook} WHERE id = ${p.id}`,
    ),
  };
}
