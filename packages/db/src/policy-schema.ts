import { index, integer, jsonb, type pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** A timestamp with time zone, read as a Date: every time column of the service. */
export const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * The destination policy's tables (docs/policy.md), for `createTables` (schema.ts), built with its
 * table function so that they live in the same schema.
 */
export function createPolicyTables(table: typeof pgTable) {
  /**
   * The destination policy of a phone channel (docs/policy.md), as `GET /policy/{channel}` shows it:
   * one row per channel that has ever had one set. Every API process reads the table at most a
   * second before it judges a create.
   */
  const policy = table("policy", {
    channel: text("channel").primaryKey(),
    body: jsonb("body").notNull(),
    updatedAt: tstz("updated_at").notNull(),
  });

  /**
   * Prefixes the conversion guard suspended, one row per channel and prefix, kept after the
   * suspension ends: `strikes` doubles the next one, `forgiven_at` (a lift) starts the counting
   * afresh. Written under the prefix's advisory lock (`otp_policy_lock`).
   */
  const policyBlock = table(
    "policy_block",
    {
      channel: text("channel").notNull(),
      prefix: text("prefix").notNull(),
      rule: text("rule").notNull(),
      /** The figures that tripped the guard. */
      sent: integer("sent").notNull(),
      verified: integer("verified").notNull(),
      since: tstz("since").notNull(),
      until: tstz("until").notNull(),
      /** Suspensions in a row; 0 after a lift. */
      strikes: integer("strikes").notNull(),
      /** Sends before this are not counted: the time of the last lift. */
      forgivenAt: tstz("forgiven_at"),
    },
    (t) => [
      primaryKey({ name: "policy_block_pkey", columns: [t.channel, t.prefix] }),
      // GET /policy/{channel}/blocks: the active ones.
      index("policy_block_until_idx").on(t.channel, t.until),
    ],
  );

  /**
   * How the policy judged each code it saw (monitor or enforce mode), and the country it counted the
   * number under: what `GET /otp/{id}` shows as `policy`, and what country windows count.
   */
  const otpPolicy = table(
    "otp_policy",
    {
      otpId: uuid("otp_id").primaryKey(),
      channel: text("channel").notNull(),
      country: text("country").notNull(),
      createdAt: tstz("created_at").notNull(),
      decision: text("decision").notNull(),
      rule: text("rule"),
    },
    (t) => [index("otp_policy_country_created_idx").on(t.channel, t.country, t.createdAt)],
  );

  return { policy, policyBlock, otpPolicy };
}
