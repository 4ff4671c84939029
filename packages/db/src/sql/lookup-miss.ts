import type { Tables } from "../schema.js";
import { qualifiedFunction, qualifiedName, schemaOf, statement } from "./statement.js";

/** One key's misses in the window, oldest first (`lockAndRead`'s rows). */
export interface LookupMissRow {
  readonly miss_key: string;
  readonly misses: Date[];
}

/**
 * The statements of the `lookup_miss` table: the misses of `GET /target` and `GET /password`,
 * counted per key (docs/security.md, "Guessing"). A lookup runs in one transaction: `lockAndRead`,
 * the lookup, and `record` when it missed.
 */
export function lookupMissSql({ lookupMiss: table }: Tables) {
  const lookupMiss = qualifiedName(table);
  const lockKey = `otp:${schemaOf(table)}:sweep:lookup_miss`;
  return {
    /**
     * Locks each key (in the order given; held until the transaction ends), then reads its misses
     * since `since`. Rows: {@link LookupMissRow}, one per key, in the keys' order.
     */
    lockAndRead: statement<{ keys: readonly string[]; since: Date }>(
      ["keys", "since"],
      (p) =>
        `SELECT miss_key, misses FROM ${qualifiedFunction(table, "otp_lookup_misses")}(${p.keys}::text[], ${p.since}::timestamptz)`,
    ),

    /** Records a miss against each key, and forgets their misses older than the window. */
    record: statement<{ keys: readonly string[]; at: Date; since: Date }>(
      ["keys", "at", "since"],
      (
        p,
      ) => `WITH old AS (DELETE FROM ${lookupMiss} WHERE key = ANY(${p.keys}::text[]) AND at <= ${p.since}::timestamptz)
INSERT INTO ${lookupMiss} (key, at) SELECT k, ${p.at}::timestamptz FROM unnest(${p.keys}::text[]) AS k`,
    ),

    /** Deletes up to `limit` misses older than the window, unless another replica is at it. */
    sweep: statement<{ since: Date; limit: number }>(
      ["since", "limit"],
      (p) => `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended('${lockKey}', 0)) AS got)
DELETE FROM ${lookupMiss} WHERE at <= ${p.since}::timestamptz AND ctid = ANY(ARRAY(
  SELECT m.ctid FROM ${lookupMiss} m, l WHERE l.got AND m.at <= ${p.since}::timestamptz LIMIT ${p.limit}::int))`,
    ),
  };
}

export type LookupMissSql = ReturnType<typeof lookupMissSql>;
