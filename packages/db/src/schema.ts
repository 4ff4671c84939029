import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgSchema,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/** Raw bytes: digests and ciphertexts. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * An email row's limit key under `OTP_EMAIL_CANONICAL=true`: its target without a `+tag` in the
 * local part. The same rule as `emailLimitKey` in @otp/contracts, which computes the key a request
 * locks and counts; a test (packages/db/test/email-limit-key.test.ts) keeps the two equal. An
 * expression over `target` rather than a column: existing rows need no rewrite, inserts do not
 * change, and the setting can be switched either way with the history counted the same.
 */
export const EMAIL_LIMIT_KEY_SQL = String.raw`regexp_replace(target, '^([^@+]+)\+[^@]*@', '\1@')`;

/**
 * The tables, built for a schema name so that `PG_SCHEMA` is honoured with fully qualified names
 * (which also works behind a transaction-mode pooler, where `SET search_path` would not stick).
 * Migrations are generated from the `public` instance and run with `search_path` set to the
 * target schema.
 */
export function createTables(schemaName: string) {
  const table = (schemaName === "public" ? pgTable : pgSchema(schemaName).table) as typeof pgTable;

  /** One row per accepted OTP. The code is kept as an HMAC digest and an AES-GCM ciphertext only. */
  const otp = table(
    "otp",
    {
      id: uuid("id").primaryKey(),
      channel: text("channel").notNull(),
      /** Normalised phone digits, lower-case email or decimal chat id. */
      target: text("target").notNull(),
      ip: text("ip"),
      passwordDigest: bytea("password_digest").notNull(),
      passwordCipher: bytea("password_cipher").notNull(),
      /** True when the service generated the code (the client omitted `password`). */
      generated: boolean("generated").notNull().default(false),
      createdAt: tstz("created_at").notNull(),
      expireAt: tstz("expire_at").notNull(),
      /** Failed checks counted against this code; at `OTP_MAX_CHECK_ATTEMPTS` it is dead. */
      failedChecks: integer("failed_checks").notNull().default(0),
      /** Set by a successful check when `OTP_SINGLE_USE=true`. */
      usedAt: tstz("used_at"),
      deliveryStatus: text("delivery_status").notNull().default("pending"),
      deliveryAttempts: integer("delivery_attempts").notNull().default(0),
      deliveryLastError: text("delivery_last_error"),
      deliveredAt: tstz("delivered_at"),
    },
    (t) => [
      // Limit windows by target and checks by channel + target.
      index("otp_channel_target_created_idx").on(t.channel, t.target, t.createdAt),
      // Limit windows by ip; most rows of channels without ip rules have no ip.
      index("otp_channel_ip_created_idx").on(t.channel, t.ip, t.createdAt).where(sql`${t.ip} is not null`),
      // GET /target: which target received this code on this channel.
      index("otp_channel_digest_idx").on(t.channel, t.passwordDigest),
      // Email limit windows under OTP_EMAIL_CANONICAL: by the address without its +tag. Partial, so
      // that the other channels' inserts do not pay for it.
      index("otp_email_limit_key_created_idx")
        .on(sql.raw(`(${EMAIL_LIMIT_KEY_SQL})`), t.createdAt)
        .where(sql`${t.channel} = 'email'`),
      // GET /password: the newest code of a target, any channel.
      index("otp_target_created_idx").on(t.target, t.createdAt),
      // Housekeeping of long-expired rows.
      index("otp_expire_idx").on(t.expireAt),
      check("otp_channel_check", sql`${t.channel} in ('sms', 'call', 'email', 'telegram')`),
      check("otp_delivery_status_check", sql`${t.deliveryStatus} in ('pending', 'delivered', 'failed', 'expired')`),
    ],
  );

  /** Limit rules (docs/api.md, "Limits"): per channel, per measure (`ip` or `target`), in the order given. */
  const limitRule = table(
    "limit_rule",
    {
      channel: text("channel").notNull(),
      measure: text("measure").notNull(),
      position: integer("position").notNull(),
      minutes: integer("minutes").notNull(),
      rate: integer("rate").notNull(),
    },
    (t) => [
      primaryKey({ name: "limit_rule_pkey", columns: [t.channel, t.measure, t.position] }),
      check("limit_rule_measure_check", sql`${t.measure} in ('ip', 'target')`),
      check("limit_rule_positive_check", sql`${t.minutes} > 0 and ${t.rate} > 0`),
    ],
  );

  /**
   * The transactional outbox: a delivery event written in the same transaction as its OTP, deleted
   * once RabbitMQ has confirmed it. Rows still here are unpublished by definition; the relay claims
   * them by state (FOR UPDATE SKIP LOCKED), never by an id cursor.
   */
  const outbox = table(
    "outbox",
    {
      /** The event id. */
      id: uuid("id").primaryKey(),
      otpId: uuid("otp_id").notNull(),
      /** The routing key. */
      channel: text("channel").notNull(),
      event: jsonb("event").notNull(),
      createdAt: tstz("created_at").notNull(),
      /** Publish attempts made by the relay, and the last failure, for operators. */
      relayAttempts: integer("relay_attempts").notNull().default(0),
      lastError: text("last_error"),
    },
    (t) => [index("outbox_created_idx").on(t.createdAt)],
  );

  /** Generated secrets, for when `OTP_SECRET` is not configured (docs/security.md). */
  const appSecret = table("app_secret", {
    name: text("name").primaryKey(),
    value: text("value").notNull(),
    createdAt: tstz("created_at").notNull().defaultNow(),
  });

  return { otp, limitRule, outbox, appSecret };
}

export type Tables = ReturnType<typeof createTables>;

// The `public` instance: what drizzle-kit generates migrations from.
export const { otp, limitRule, outbox, appSecret } = createTables("public");
