import { CHANNEL_INFO, type Channel, type LimitMeasure, type LimitRule } from "@otp/contracts";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";

/** The rules of one channel, as `GET /limit/{channel}` shows them. */
export interface ChannelRules {
  readonly ip: LimitRule[];
  readonly target: LimitRule[];
}

/** A change to a channel's rules: each measure present is replaced; an absent one is kept. */
export type RulesChange = Partial<Record<LimitMeasure, readonly LimitRule[]>>;

/** Turns a parsed `POST /limit/{channel}` body into a change: `ips` and the channel's target key. */
export function rulesChangeOf(channel: Channel, body: Record<string, readonly LimitRule[] | undefined>): RulesChange {
  const change: { -readonly [K in LimitMeasure]?: readonly LimitRule[] } = {};
  if (body.ips !== undefined) change.ip = body.ips;
  const target = body[CHANNEL_INFO[channel].targetRules];
  if (target !== undefined) change.target = target;
  return change;
}

export async function readRules(deps: Pick<DomainDeps, "pool" | "tables">, channel: Channel): Promise<ChannelRules> {
  const { rows } = await deps.pool.query<{ measure: LimitMeasure; minutes: number; rate: number }>(
    `SELECT measure, minutes, rate FROM ${deps.tables.limitRule} WHERE channel = $1 ORDER BY measure, position`,
    [channel],
  );
  const rules: ChannelRules = { ip: [], target: [] };
  for (const row of rows) rules[row.measure].push({ minutes: row.minutes, rate: row.rate });
  return rules;
}

/**
 * Replaces the rules of each measure in `change`, in one transaction. A per-channel advisory lock
 * serialises concurrent changes: without it two replacements of the same measure could both delete
 * the old rows and then collide on inserting their new ones.
 */
export async function replaceRules(
  deps: Pick<DomainDeps, "pool" | "tables">,
  channel: Channel,
  change: RulesChange,
): Promise<void> {
  const measures = (Object.keys(change) as LimitMeasure[]).sort();
  if (measures.length === 0) return;
  const { limitRule } = deps.tables;
  await withTransaction(deps.pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `otp:${deps.tables.schema}:limit-rules:${channel}`,
    ]);
    for (const measure of measures) {
      const rules = change[measure] ?? [];
      await client.query(`DELETE FROM ${limitRule} WHERE channel = $1 AND measure = $2`, [channel, measure]);
      if (rules.length === 0) continue;
      await client.query(
        `INSERT INTO ${limitRule} (channel, measure, position, minutes, rate)
         SELECT $1, $2, r.ord - 1, r.minutes, r.rate
         FROM unnest($3::int[], $4::int[]) WITH ORDINALITY AS r(minutes, rate, ord)`,
        [channel, measure, rules.map((r) => r.minutes), rules.map((r) => r.rate)],
      );
    }
  });
}
