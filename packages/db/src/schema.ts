import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, pgSchema, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { bytea } from "./bytea.js";
import { createLifecycleTables } from "./lifecycle-schema.js";
import { createPolicyTables, tstz } from "./policy-schema.js";

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
      /**
       * The first right check of this code (the verification succeeded): what conversion figures
       * count (docs/security.md); a later right check of a code still live does not move it.
       */
      verifiedAt: tstz("verified_at"),
      /** When the code stopped being live before its expiry, and why ({@link CLOSED_REASONS}). */
      closedAt: tstz("closed_at"),
      closedReason: text("closed_reason"),
      deliveryStatus: text("delivery_status").notNull().default("pending"),
      deliveryAttempts: integer("delivery_attempts").notNull().default(0),
      deliveryLastError: text("delivery_last_error"),
      deliveredAt: tstz("delivered_at"),
      /** Up to 10 string pairs the client gave at create (docs/lifecycle.md, "Metadata"); never a code. */
      metadata: jsonb("metadata"),
      /** A code of a test target (docs/test-targets.md): never sent, marked everywhere. */
      test: boolean("test").notNull().default(false),
      /** ISO 3166 alpha-2 region of a phone target (libphonenumber), for statistics and webhooks. */
      country: text("country"),
      /** `otp.expired` has been emitted for this code (once per OTP; docs/lifecycle.md, "Events"). */
      expiryEmitted: boolean("expiry_emitted").notNull().default(false),
    },
    (t) => [
      // Checks, limit windows and GET /password by channel + target; and, with text_pattern_ops
      // (whose = is text's own), the destination policy's prefix ranges over phone channels
      // (`target ~>=~ '770123' AND target ~<~ '770123:'`, whatever the database's collation).
      index("otp_channel_target_idx").on(t.channel, t.target.op("text_pattern_ops"), t.createdAt),
      // Limit windows by ip; most rows of channels without ip rules have no ip.
      index("otp_channel_ip_created_idx").on(t.channel, t.ip, t.createdAt).where(sql`${t.ip} is not null`),
      // GET /target: which target received this code on this channel.
      index("otp_channel_digest_idx").on(t.channel, t.passwordDigest),
      // Email limit windows under OTP_EMAIL_CANONICAL: by the address without its +tag. Partial, so
      // that the other channels' inserts do not pay for it.
      index("otp_email_limit_key_created_idx")
        .on(sql.raw(`(${EMAIL_LIMIT_KEY_SQL})`), t.createdAt)
        .where(sql`${t.channel} = 'email'`),
      // Retention's deletes, the earliest to expire first (docs/operations.md, "Retention").
      index("otp_expire_idx").on(t.expireAt),
      // GET /stats' windows (docs/statistics.md): rows are written in created_at order, so a BRIN
      // index (a summary per 32 pages) finds any window, old ones too, at almost no cost per insert.
      index("otp_created_brin").using("brin", t.createdAt).with({ pages_per_range: 32 }),
      // The destination policy's budget windows over phone channels (docs/policy.md). Partial:
      // email and telegram inserts skip it.
      index("otp_phone_created_idx").on(t.channel, t.createdAt).where(sql`${t.channel} in ('sms', 'call')`),
      check("otp_channel_check", sql`${t.channel} in ('sms', 'call', 'email', 'telegram')`),
      check(
        "otp_delivery_status_check",
        sql`${t.deliveryStatus} in ('pending', 'delivered', 'failed', 'expired', 'canceled')`,
      ),
      check(
        "otp_closed_check",
        sql`(${t.closedAt} is null) = (${t.closedReason} is null) and ${t.closedReason} in ('consumed', 'sibling_consumed', 'superseded', 'canceled')`,
      ),
    ],
  );

  /**
   * The per-target failure budget (docs/security.md, "Guessing"): consecutive wrong checks of one
   * channel and target, across all its codes, in the row whose `ip` is ''; and, when the caller
   * gives the requester's address, of that target from that address, in a row of its own. Written
   * only by the check function (migration 0002), under an advisory lock per channel and target.
   */
  const checkBudget = table(
    "check_budget",
    {
      channel: text("channel").notNull(),
      target: text("target").notNull(),
      /** '' for the target as a whole, else the requester's address. */
      ip: text("ip").notNull(),
      /** Consecutive wrong checks counted; a right check deletes the row. */
      failures: integer("failures").notNull(),
      /** Delays started so far: the next lasts 30 s × 2^delays, at most an hour. */
      delays: integer("delays").notNull().default(0),
      /** Checks are refused until then. */
      blockedUntil: tstz("blocked_until"),
      /** When the counter is forgotten: an hour after the later of its last failure, its delay and its target's last code. */
      expireAt: tstz("expire_at").notNull(),
    },
    (t) => [
      primaryKey({ name: "check_budget_pkey", columns: [t.channel, t.target, t.ip] }),
      // The sweeper's deletes.
      index("check_budget_expire_idx").on(t.expireAt),
    ],
  );

  /**
   * Misses of `GET /target` and `GET /password`, one row each, kept for the window they are counted
   * in (a minute): the key says what was missed (`target:sms`, `target:sms:ip:203.0.113.7`,
   * `password`). Written and counted under an advisory lock per key.
   */
  const lookupMiss = table(
    "lookup_miss",
    {
      key: text("key").notNull(),
      at: tstz("at").notNull(),
    },
    (t) => [index("lookup_miss_key_at_idx").on(t.key, t.at), index("lookup_miss_at_idx").on(t.at)],
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
      /** The OTP the event is about; null for an event without one (`otp.blocked`). */
      otpId: uuid("otp_id"),
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

  return {
    otp,
    limitRule,
    outbox,
    appSecret,
    checkBudget,
    lookupMiss,
    ...createPolicyTables(table),
    ...createLifecycleTables(table),
  };
}

export type Tables = ReturnType<typeof createTables>;

// The `public` instance: what drizzle-kit generates migrations from.
export const {
  otp,
  limitRule,
  outbox,
  appSecret,
  checkBudget,
  lookupMiss,
  policy,
  policyBlock,
  otpPolicy,
  webhook,
  testTarget,
  expirySweep,
} = createTables("public");

/** Why a code stopped being live before its expiry (`otp.closed_reason`). */
export const CLOSED_REASONS = ["consumed", "sibling_consumed", "superseded", "canceled"] as const;
export type ClosedReason = (typeof CLOSED_REASONS)[number];
