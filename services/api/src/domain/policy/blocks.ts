import type { PolicyBlock, PolicyChannel, PolicyRule } from "@otp/contracts";
import type { PolicyBlockRow } from "@otp/db";
import { withTransaction } from "../../db/transaction.js";
import type { DomainDeps } from "../deps.js";

/** `GET /policy/{channel}/blocks`: the active suspensions, oldest first. */
export async function activeBlocks(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock">,
  channel: PolicyChannel,
): Promise<PolicyBlock[]> {
  const { rows } = await deps.pool.query<PolicyBlockRow>(deps.sql.policyBlock.active({ channel, now: deps.clock() }));
  return rows.map((row) => ({
    prefix: row.prefix,
    rule: row.rule as PolicyRule,
    sent: row.sent,
    verified: row.verified,
    since: row.since.toISOString(),
    until: row.until.toISOString(),
  }));
}

/**
 * `DELETE /policy/{channel}/blocks/{prefix}`: ends the prefix's suspension now, under the lock the
 * guard counts it under, and forgives it (docs/policy.md, "Reading blocks and metrics"). False when
 * there was neither a suspension in force nor a streak to forgive.
 */
export async function liftBlock(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock">,
  channel: PolicyChannel,
  prefix: string,
): Promise<boolean> {
  const { policyBlock } = deps.sql;
  return withTransaction(deps.pool, async (client) => {
    await client.query(policyBlock.lockPrefix({ channel, prefix }));
    const { rows } = await client.query(policyBlock.lift({ channel, prefix, now: deps.clock() }));
    return rows.length > 0;
  });
}
