import { createHmac, randomUUID } from "node:crypto";
import { encrypt, newWebhookSecret, WEBHOOK_ROUTE, type WebhookMessage } from "@otp/contracts";
import type { RecordedRequest } from "@otp/testkit";
import { Webhook } from "svix";
import type { useHarness } from "./harness.js";

type Harness = ReturnType<typeof useHarness>;

/** `OTP_MAX_CHECK_ATTEMPTS` of the tests' events (the default). */
export const MAX_FAILURES = 5;

export interface TestSubscription {
  readonly id: string;
  readonly secret: string;
}

/**
 * A subscription as the API stores one (docs/webhooks.md): a `webhook` row, its secret sealed with
 * the keyring and bound to the row's id. The dispatcher reads it by id when it sends.
 */
export async function subscribe(
  h: Harness,
  url: string,
  events: readonly string[] = ["otp.*"],
): Promise<TestSubscription> {
  const id = randomUUID();
  const secret = newWebhookSecret();
  await h.pool.query(
    "INSERT INTO webhook (id, url, events, secret_cipher, source, created_at) VALUES ($1, $2, $3, $4, 'api', now())",
    [id, url, events, encrypt(h.keys, secret, id)],
  );
  return { id, secret };
}

/** Emits a lifecycle event about an OTP as the API does (SQL otp_emit); resolves with the outbox rows written. */
export async function emit(h: Harness, type: string, otpId: string): Promise<number> {
  const { rows } = await h.pool.query<{ n: number }>(
    "SELECT otp_emit($1, $2, now(), otp_event_data($2, now(), $3)) AS n",
    [type, otpId, MAX_FAILURES],
  );
  return rows[0]?.n ?? 0;
}

/** The webhook outbox rows not yet published, as their messages. */
export async function outboxWebhooks(h: Harness): Promise<WebhookMessage[]> {
  const { rows } = await h.pool.query<{ event: WebhookMessage }>(
    "SELECT event FROM outbox WHERE channel = $1 ORDER BY created_at, id",
    [WEBHOOK_ROUTE],
  );
  return rows.map((r) => r.event);
}

/**
 * Publishes the webhook outbox rows as the API's relay does (routing key = the row's channel,
 * message id = the row's id, the JSON as stored) and deletes them; resolves with their messages.
 */
export async function relayWebhooks(h: Harness): Promise<WebhookMessage[]> {
  const { rows } = await h.pool.query<{ id: string; body: string; event: WebhookMessage }>(
    "DELETE FROM outbox WHERE channel = $1 RETURNING id, event::text AS body, event",
    [WEBHOOK_ROUTE],
  );
  for (const row of rows) await h.publish({ channel: WEBHOOK_ROUTE, raw: Buffer.from(row.body), id: row.id });
  return rows.map((r) => r.event);
}

/**
 * Verifies a received webhook with svix's own Standard Webhooks implementation (its `Webhook`
 * class, in a version that does not build on the `standardwebhooks` package the service signs
 * with); throws when the signature does not match. Resolves with the payload it vouches for.
 */
export function verifyWithSvix(secret: string, request: RecordedRequest): unknown {
  return new Webhook(secret).verify(request.body, {
    "webhook-id": request.headers["webhook-id"] ?? "",
    "webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
    "webhook-signature": request.headers["webhook-signature"] ?? "",
  });
}

/** The signature as the Standard Webhooks text defines it, computed here by hand: v1,base64(HMAC-SHA256). */
export function expectedSignature(secret: string, request: RecordedRequest): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signed = `${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`;
  return `v1,${createHmac("sha256", key).update(signed).digest("base64")}`;
}
