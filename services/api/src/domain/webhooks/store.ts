import { randomUUID } from "node:crypto";
import {
  type Config,
  encrypt,
  MAX_WEBHOOKS,
  newWebhookSecret,
  openSubscriptionSigner,
  type WebhookContent,
  type WebhookCreateRequest,
  type WebhookUpdateRequest,
} from "@otp/contracts";
import type { WebhookListRow, WebhookRow } from "@otp/db";
import { withTransaction } from "../../db/transaction.js";
import type { DomainDeps } from "../deps.js";
import { webhookUrlRefusal } from "./url-check.js";

/**
 * The id of the subscription `OTP_WEBHOOK_URL` configures: fixed (derived from nothing secret), so
 * that every start and every replica keeps the same row up to date instead of adding one.
 */
export const ENV_WEBHOOK_ID = "00000000-0000-4000-8000-00000000e4e1";

type StoreDeps = Pick<DomainDeps, "pool" | "sql" | "keys" | "clock">;

/** A subscription, or why it was refused (a 400 for the route). */
export type CreateResult =
  | { readonly ok: true; readonly webhook: WebhookContent & { readonly secret: string } }
  | { readonly ok: false; readonly problem: string };

export type RemoveResult = "deleted" | "not_found" | "configured";

/** The subscription changed, why the change was refused (a 400), or why there was none to change. */
export type UpdateResult =
  | { readonly outcome: "updated"; readonly webhook: WebhookContent }
  | { readonly outcome: "refused"; readonly problem: string }
  | { readonly outcome: "not_found" }
  | { readonly outcome: "configured" };

const contentOf = (row: WebhookRow): WebhookContent => ({
  id: row.id,
  url: row.url,
  events: row.events,
  source: row.source,
  created_at: row.created_at.toISOString(),
});

const refusalOf = async (url: string, settings: Config["webhooks"]): Promise<string | undefined> => {
  const refusal = await webhookUrlRefusal(url, settings.allowPrivate);
  return refusal && `"url" ${refusal} (allowed with OTP_WEBHOOK_ALLOW_PRIVATE=true)`;
};

/** Webhook subscriptions (docs/lifecycle.md, "Webhook subscriptions"): secrets sealed with the keyring, bound to the row's id. */
export function createWebhookStore(deps: StoreDeps, settings: Config["webhooks"]) {
  const { webhook } = deps.sql;
  return {
    async create(request: WebhookCreateRequest): Promise<CreateResult> {
      const refusal = await refusalOf(request.url, settings);
      if (refusal) return { ok: false, problem: refusal };
      const id = randomUUID();
      const secret = request.secret ?? newWebhookSecret();
      const rows = await withTransaction(deps.pool, async (client) => {
        await client.query(webhook.lockForInsert({}));
        const { rows: counted } = await client.query<{ n: number }>(webhook.count({}));
        if ((counted[0]?.n ?? 0) >= MAX_WEBHOOKS) return undefined;
        const insert = webhook.insert({
          id,
          url: request.url,
          events: request.events,
          secretCipher: encrypt(deps.keys, secret, id),
          createdAt: deps.clock(),
        });
        return (await client.query<WebhookRow>(insert)).rows;
      });
      if (!rows) return { ok: false, problem: `At most ${MAX_WEBHOOKS} webhook subscriptions; delete one first` };
      return { ok: true, webhook: { ...contentOf(rows[0] as WebhookRow), secret } };
    },

    /** Oldest first, each whose secret this process cannot open marked `unreadable`. */
    async list(): Promise<WebhookContent[]> {
      const { rows } = await deps.pool.query<WebhookListRow>(webhook.list({}));
      return rows.map((row) =>
        openSubscriptionSigner(deps.keys, row.secret_cipher, row.id)
          ? contentOf(row)
          : { ...contentOf(row), unreadable: true },
      );
    },

    /**
     * Changes the URL or the events of a subscription made through the API, checked as a create's;
     * its id and secret stay, so its receiver and its dead letters keep working.
     */
    async update(id: string, request: WebhookUpdateRequest): Promise<UpdateResult> {
      const refusal = request.url === undefined ? undefined : await refusalOf(request.url, settings);
      if (refusal) return { outcome: "refused", problem: refusal };
      const changes = { id, url: request.url ?? null, events: request.events ?? null };
      const { rows } = await deps.pool.query<WebhookRow & { updated: boolean }>(webhook.update(changes));
      const row = rows[0];
      if (!row) return { outcome: "not_found" };
      if (!row.updated) return { outcome: "configured" };
      return { outcome: "updated", webhook: contentOf(row) };
    },

    /** Deletes a subscription made through the API; the one of `OTP_WEBHOOK_URL` is the variable's business. */
    async remove(id: string): Promise<RemoveResult> {
      const { rows } = await deps.pool.query<{ source: string | null; deleted: boolean }>(webhook.remove({ id }));
      const row = rows[0];
      if (row?.deleted) return "deleted";
      return row?.source === "env" ? "configured" : "not_found";
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;

/**
 * Keeps the `OTP_WEBHOOK_URL` subscription equal to the variables, at start: upserted when they
 * are set, removed when they are not. Throws when the URL is refused (main.ts stops the process).
 */
export async function syncEnvWebhook(deps: StoreDeps, settings: Config["webhooks"]): Promise<void> {
  const { webhook } = deps.sql;
  if (!settings.env) {
    await deps.pool.query(webhook.removeEnv({ id: ENV_WEBHOOK_ID }));
    return;
  }
  const { url, secret, events } = settings.env;
  const refusal = await webhookUrlRefusal(url, settings.allowPrivate);
  if (refusal) throw new Error(`OTP_WEBHOOK_URL: ${refusal} (allowed with OTP_WEBHOOK_ALLOW_PRIVATE=true)`);
  await deps.pool.query(
    webhook.upsertEnv({
      id: ENV_WEBHOOK_ID,
      url,
      events,
      secretCipher: encrypt(deps.keys, secret, ENV_WEBHOOK_ID),
      createdAt: deps.clock(),
    }),
  );
}
