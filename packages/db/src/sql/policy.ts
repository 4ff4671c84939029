import type { Channel } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { qualifiedName, schemaOf, statement } from "./statement.js";

/** The statements of the `policy` table: one row per channel, the whole policy as JSON. */
export function policySql({ policy: table }: Tables) {
  const policy = qualifiedName(table);
  const schema = schemaOf(table);
  return {
    /** Every channel's policy, for each API process's cache. Rows: `channel`, `body`. */
    selectAll: statement<Record<string, never>>([], () => `SELECT channel, body FROM ${policy}`),

    /** One channel's. Row: `body`. */
    selectOne: statement<{ channel: Channel }>(
      ["channel"],
      (p) => `SELECT body FROM ${policy} WHERE channel = ${p.channel}`,
    ),

    /**
     * Serialises changes to one channel's policy until the transaction ends, so that two partial
     * changes sent at once both apply (each reads what the other wrote).
     */
    lockChannel: statement<{ channel: Channel }>(
      ["channel"],
      (p) => `SELECT pg_advisory_xact_lock(hashtextextended('otp:${schema}:policy-set:' || ${p.channel}::text, 0))`,
    ),

    upsert: statement<{ channel: Channel; body: string; now: Date }>(
      ["channel", "body", "now"],
      (p) => `INSERT INTO ${policy} (channel, body, updated_at) VALUES (${p.channel}, ${p.body}::jsonb, ${p.now})
ON CONFLICT (channel) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    ),
  };
}

export type PolicySql = ReturnType<typeof policySql>;
