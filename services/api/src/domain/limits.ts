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

export async function readRules(deps: Pick<DomainDeps, "pool" | "sql">, channel: Channel): Promise<ChannelRules> {
  const { rows } = await deps.pool.query<{ measure: LimitMeasure; minutes: number; rate: number }>(
    deps.sql.limitRule.selectRules({ channel }),
  );
  const rules: ChannelRules = { ip: [], target: [] };
  for (const row of rows) rules[row.measure].push({ minutes: row.minutes, rate: row.rate });
  return rules;
}

/**
 * Replaces the rules of each measure in `change`, in one transaction, under a per-channel advisory
 * lock (concurrent changes of one channel run one after the other).
 */
export async function replaceRules(
  deps: Pick<DomainDeps, "pool" | "sql">,
  channel: Channel,
  change: RulesChange,
): Promise<void> {
  const measures = (Object.keys(change) as LimitMeasure[]).sort();
  if (measures.length === 0) return;
  const { limitRule } = deps.sql;
  await withTransaction(deps.pool, async (client) => {
    await client.query(limitRule.lockChannelRules({ channel }));
    for (const measure of measures) {
      const rules = change[measure] ?? [];
      await client.query(limitRule.deleteRules({ channel, measure }));
      if (rules.length === 0) continue;
      await client.query(
        limitRule.insertRules({
          channel,
          measure,
          minutes: rules.map((r) => r.minutes),
          rates: rules.map((r) => r.rate),
        }),
      );
    }
  });
}
