import type { Channel } from "@otp/contracts";
import type { Tables } from "../schema.js";
import { qualifiedFunction, qualifiedName, statement } from "./statement.js";

/** A suspension as listed: `GET /policy/{channel}/blocks`. */
export interface PolicyBlockRow {
  readonly prefix: string;
  readonly rule: string;
  readonly sent: number;
  readonly verified: number;
  readonly since: Date;
  readonly until: Date;
}

export interface TripParams {
  readonly channel: Channel;
  readonly prefix: string;
  readonly rule: string;
  readonly sent: number;
  readonly verified: number;
  readonly since: Date;
  readonly until: Date;
  readonly strikes: number;
}

/**
 * The statements of `policy_block`: the conversion guard's suspensions. Every write happens under
 * the prefix's advisory lock (`otp_policy_lock`), the one the guard counts under.
 */
export function policyBlockSql(tables: Tables) {
  const block = qualifiedName(tables.policyBlock);
  const lock = qualifiedFunction(tables.policyBlock, "otp_policy_lock");
  return {
    /** The active suspensions of a channel, oldest first. Rows: {@link PolicyBlockRow}. */
    active: statement<{ channel: Channel; now: Date }>(
      ["channel", "now"],
      (p) => `SELECT prefix, rule, sent, verified, since, until FROM ${block}
WHERE channel = ${p.channel} AND until > ${p.now} ORDER BY since, prefix`,
    ),

    /** A suspension begins (the guard tripped); the prefix's row keeps its last lift. */
    trip: statement<TripParams>(
      ["channel", "prefix", "rule", "sent", "verified", "since", "until", "strikes"],
      (p) => `INSERT INTO ${block} (channel, prefix, rule, sent, verified, since, until, strikes)
VALUES (${p.channel}, ${p.prefix}, ${p.rule}, ${p.sent}, ${p.verified}, ${p.since}, ${p.until}, ${p.strikes})
ON CONFLICT (channel, prefix) DO UPDATE SET rule = excluded.rule, sent = excluded.sent, verified = excluded.verified,
  since = excluded.since, until = excluded.until, strikes = excluded.strikes`,
    ),

    /** Takes the prefix's lock until the transaction ends (before `lift`). */
    lockPrefix: statement<{ channel: Channel; prefix: string }>(
      ["channel", "prefix"],
      (p) => `SELECT ${lock}(${p.channel}::text, 'prefix', ${p.prefix}::text)`,
    ),

    /**
     * Ends a suspension now, if one is in force, and forgives the prefix: the sends before now no
     * longer count, and the next suspension is a first one again — also for a prefix whose
     * suspension has ended but whose streak is remembered (`strikes`), which an operator who finds
     * no suspension in force would otherwise have no way to forgive. Rows: `prefix`, one if there
     * was one to lift or forgive.
     */
    lift: statement<{ channel: Channel; prefix: string; now: Date }>(
      ["channel", "prefix", "now"],
      (p) => `UPDATE ${block} SET until = least(until, ${p.now}), forgiven_at = ${p.now}, strikes = 0
WHERE channel = ${p.channel} AND prefix = ${p.prefix} AND (until > ${p.now} OR strikes > 0) RETURNING prefix`,
    ),
  };
}

export type PolicyBlockSql = ReturnType<typeof policyBlockSql>;
