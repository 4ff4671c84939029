import { type Channel, DEFAULT_POLICY, isPolicyChannel, type Logger, type Policy } from "@otp/contracts";
import type { Sql } from "@otp/db";
import type pg from "pg";
import { createSnapshotCache } from "../../snapshot-cache.js";
import { policyOfRow } from "./store.js";

/**
 * Each API process's copy of the policies (one statement reads them all), so that a create needs
 * no round trip to learn its channel's policy: a change made on any replica is in force everywhere
 * within a second (snapshot-cache.ts), and under steady traffic no create waits.
 */

export interface PolicyCache {
  /** The channel's policy as of at most a second ago; `off` for email and telegram. */
  get(channel: Channel): Promise<Policy>;
  /** This process changed a policy: use it at once. */
  changed(channel: Channel, policy: Policy): void;
}

export function createPolicyCache(deps: { pool: pg.Pool; sql: Sql; logger: Logger }): PolicyCache {
  const cache = createSnapshotCache({
    initial: new Map<string, Policy>(),
    load: async () => {
      const { rows } = await deps.pool.query<{ channel: string; body: unknown }>(deps.sql.policy.selectAll({}));
      return new Map(rows.map((row) => [row.channel, policyOfRow(row.body)]));
    },
    logger: deps.logger,
    what: "the policies",
  });
  return {
    async get(channel) {
      if (!isPolicyChannel(channel)) return DEFAULT_POLICY;
      return (await cache.current()).get(channel) ?? DEFAULT_POLICY;
    },
    changed(channel, policy) {
      cache.changed((policies) => new Map(policies).set(channel, policy));
    },
  };
}
