import { DEFAULT_POLICY, mergePolicy, type Policy, type PolicyChange, type PolicyChannel } from "@otp/contracts";
import { withTransaction } from "../../db/transaction.js";
import type { DomainDeps } from "../deps.js";

/**
 * A stored policy as the service uses it: what was stored over the defaults, so that a part added
 * to the policy later reads as its default in rows written before.
 */
export function policyOfRow(body: unknown): Policy {
  return { ...DEFAULT_POLICY, ...(body as Partial<Policy> | null) };
}

export async function readPolicy(deps: Pick<DomainDeps, "pool" | "sql">, channel: PolicyChannel): Promise<Policy> {
  const { rows } = await deps.pool.query<{ body: unknown }>(deps.sql.policy.selectOne({ channel }));
  return policyOfRow(rows[0]?.body ?? null);
}

/**
 * Applies a change to the stored policy, under a per-channel lock (two partial changes sent at once
 * both apply), and answers the policy as it now is. Every API process sees it within a second
 * (`PolicyCache`); this process at once.
 */
export async function changePolicy(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock" | "policies">,
  channel: PolicyChannel,
  change: PolicyChange,
): Promise<Policy> {
  const { policy: sql } = deps.sql;
  const policy = await withTransaction(deps.pool, async (client) => {
    await client.query(sql.lockChannel({ channel }));
    const { rows } = await client.query<{ body: unknown }>(sql.selectOne({ channel }));
    const merged = mergePolicy(policyOfRow(rows[0]?.body ?? null), change);
    await client.query(sql.upsert({ channel, body: JSON.stringify(merged), now: deps.clock() }));
    return merged;
  });
  deps.policies.changed(channel, policy);
  return policy;
}
