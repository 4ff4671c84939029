import { performance } from "node:perf_hooks";
import { type Channel, DEFAULT_POLICY, isPolicyChannel, type Logger, type Policy } from "@otp/contracts";
import type { Sql } from "@otp/db";
import type pg from "pg";
import { policyOfRow } from "./store.js";

/**
 * Each API process's copy of the policies (one statement reads them all), so that a create needs
 * no round trip to learn its channel's policy. A copy younger than FRESH_MS is used as it is; an
 * older one is still used while a refresh runs in the background, up to STALE_MS; past that (after
 * an idle spell, or at start) the create waits for the read. So a change made on any replica is in
 * force everywhere within STALE_MS, one second, and under steady traffic no create waits.
 */
export const FRESH_MS = 500;
export const STALE_MS = 1000;

export interface PolicyCache {
  /** The channel's policy as of at most a second ago; `off` for email and telegram. */
  get(channel: Channel): Promise<Policy>;
  /** This process changed a policy: use it at once. */
  changed(channel: Channel, policy: Policy): void;
}

export function createPolicyCache(deps: { pool: pg.Pool; sql: Sql; logger: Logger }): PolicyCache {
  let policies = new Map<string, Policy>();
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  // Bumped by `changed`: a read that started before a change must not put the old policy back.
  let generation = 0;

  const read = () => {
    reading ??= (async () => {
      const started = performance.now();
      const startedGeneration = generation;
      try {
        const { rows } = await deps.pool.query<{ channel: string; body: unknown }>(deps.sql.policy.selectAll({}));
        if (generation !== startedGeneration) return;
        policies = new Map(rows.map((row) => [row.channel, policyOfRow(row.body)]));
        readAt = started;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  return {
    async get(channel) {
      if (!isPolicyChannel(channel)) return DEFAULT_POLICY;
      const age = performance.now() - readAt;
      if (age > STALE_MS) await read();
      else if (age > FRESH_MS) {
        read().catch((error: unknown) =>
          deps.logger.warn({ err: error }, "reading the policies failed; kept the last"),
        );
      }
      return policies.get(channel) ?? DEFAULT_POLICY;
    },
    changed(channel, policy) {
      generation++;
      policies = new Map(policies).set(channel, policy);
    },
  };
}
