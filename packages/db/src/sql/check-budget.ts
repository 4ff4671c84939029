import type { Tables } from "../schema.js";
import { qualifiedName, schemaOf, statement } from "./statement.js";

/**
 * The statements of the `check_budget` table besides the check itself, which reads and writes it
 * in `otp_check` (migration 0002, called by `check` in `otp.ts`): the sweeper's deletes.
 */
export function checkBudgetSql({ checkBudget: table }: Tables) {
  const checkBudget = qualifiedName(table);
  const lockKey = `otp:${schemaOf(table)}:sweep:check_budget`;
  return {
    /**
     * Deletes up to `limit` forgotten counters, if no other replica is sweeping this table right
     * now (the lock is tried, not awaited, and held until the statement's transaction ends).
     * `rowCount` is the number deleted.
     */
    sweep: statement<{ now: Date; limit: number }>(
      ["now", "limit"],
      (p) => `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended('${lockKey}', 0)) AS got)
DELETE FROM ${checkBudget} WHERE expire_at <= ${p.now}::timestamptz AND ctid = ANY(ARRAY(
  SELECT b.ctid FROM ${checkBudget} b, l WHERE l.got AND b.expire_at <= ${p.now}::timestamptz LIMIT ${p.limit}::int))`,
    ),
  };
}

export type CheckBudgetSql = ReturnType<typeof checkBudgetSql>;
