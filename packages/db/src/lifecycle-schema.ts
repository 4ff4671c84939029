import { boolean, index, type pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { bytea } from "./bytea.js";
import { tstz } from "./policy-schema.js";

/**
 * The verification lifecycle's tables (docs/lifecycle.md), for `createTables` (schema.ts), built
 * with its table function so that they live in the same schema.
 */
export function createLifecycleTables(table: typeof pgTable) {
  /**
   * Webhook subscriptions: one row per `POST /webhooks`, and one (`source = 'env'`) kept equal to
   * `OTP_WEBHOOK_URL` + `OTP_WEBHOOK_SECRET` by the API at start. `otp_emit` (SQL) fans each
   * lifecycle event out to the subscriptions whose `events` match it, one outbox row each; the
   * dispatcher reads `url` and the secret by `id` when it sends. The secret is sealed with the
   * keyring (AES-GCM, bound to the row's id), like the codes.
   */
  const webhook = table("webhook", {
    id: uuid("id").primaryKey(),
    url: text("url").notNull(),
    /** Event types or patterns (`otp.*`, `otp.verified`, …). */
    events: text("events").array().notNull(),
    secretCipher: bytea("secret_cipher").notNull(),
    /** `api` (POST /webhooks) or `env` (OTP_WEBHOOK_URL). */
    source: text("source").notNull().default("api"),
    createdAt: tstz("created_at").notNull(),
  });

  /**
   * Test targets (docs/test-targets.md), only used under `OTP_TEST_TARGETS=true`: a
   * fixed code for one channel and target, nothing ever sent, exempt from limits and policy.
   */
  const testTarget = table(
    "test_target",
    {
      channel: text("channel").notNull(),
      target: text("target").notNull(),
      passwordDigest: bytea("password_digest").notNull(),
      passwordCipher: bytea("password_cipher").notNull(),
      expiresAt: tstz("expires_at").notNull(),
      createdAt: tstz("created_at").notNull(),
    },
    (t) => [
      primaryKey({ name: "test_target_pkey", columns: [t.channel, t.target] }),
      index("test_target_expires_idx").on(t.expiresAt),
    ],
  );

  /**
   * How far `otp.expired` has been emitted (docs/lifecycle.md, "Events"): one row, the `now` of the
   * last complete sweep, whichever API process made it. The next sweep, in any process, starts
   * there (less a minute, for creates that committed late), so expiries while every API process
   * was down are emitted when one comes back, however long it was down.
   */
  const expirySweep = table("expiry_sweep", {
    /** Always true: the table holds one row. */
    one: boolean("one").primaryKey().default(true),
    sweptTo: tstz("swept_to").notNull(),
  });

  return { webhook, testTarget, expirySweep };
}
