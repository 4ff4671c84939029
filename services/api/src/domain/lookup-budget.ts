import { LOOKUP_IP_SHARE, LOOKUP_WINDOW_SECONDS } from "@otp/contracts";
import type { LookupMissRow } from "@otp/db";
import type pg from "pg";
import { withTransaction } from "../db/transaction.js";
import type { DomainDeps } from "./deps.js";

/**
 * The misses of `GET /target` and `GET /password` (docs/security.md, "Guessing"): each answers for
 * codes or targets the caller did not have to know, so each guess that misses is counted, and once
 * a key has had its share in the last minute every lookup under it is refused — hits included,
 * since a lookup that is still answered is still an oracle.
 *
 * A lookup runs in one transaction: the keys' advisory locks and their misses (`lockAndRead`), the
 * lookup itself, and, when it missed, the miss (`record`). So concurrent lookups are counted one
 * after the other, on any replica: a burst cannot look up more guesses than the budget allows.
 * Before it, one statement reads the misses alone (its locks last as long as the statement): a
 * flood is mostly refused, and then in one round trip instead of a transaction's three.
 */

/** One counted key and how many misses it may have in the window. */
export interface MissKey {
  readonly key: string;
  readonly cap: number;
}

export type Budgeted<T> =
  | { readonly throttled: false; readonly value: T }
  | { readonly throttled: true; readonly retryAfterSeconds: number };

/** What the lookup found, and whether that counts as a miss. */
export interface LookupResult<T> {
  readonly value: T;
  readonly miss: boolean;
}

/** `GET /target`'s keys: its channel, and, when given, the requester's address (a quarter of the channel's share). */
export function targetKeys(lookupMisses: number, channel: string, ip: string | undefined): MissKey[] {
  const channelKey = { key: `target:${channel}`, cap: lookupMisses };
  if (ip === undefined) return [channelKey];
  return [{ key: `target:${channel}:ip:${ip}`, cap: Math.ceil(lookupMisses / LOOKUP_IP_SHARE) }, channelKey];
}

/** `GET /password`'s one key: all its misses, whatever the target. */
export const passwordKeys = (lookupMisses: number): MissKey[] => [{ key: "password", cap: lookupMisses }];

/**
 * Runs `lookup` under the budget of `keys` (with OTP_LOOKUP_MISSES=0, without one: straight on
 * the pool). Refused without looking anything up when a key has had `cap` misses in the window.
 */
export async function withMissBudget<T>(
  deps: Pick<DomainDeps, "pool" | "sql" | "clock" | "guessing">,
  keys: readonly MissKey[],
  lookup: (db: Pick<pg.ClientBase, "query">) => Promise<LookupResult<T>>,
): Promise<Budgeted<T>> {
  if (deps.guessing.lookupMisses === 0) return { throttled: false, value: (await lookup(deps.pool)).value };
  const { lookupMiss } = deps.sql;
  const names = keys.map((k) => k.key);
  const sinceOf = (now: Date) => new Date(now.getTime() - LOOKUP_WINDOW_SECONDS * 1000);
  const peekedAt = deps.clock();
  const peek = await deps.pool.query<LookupMissRow>(lookupMiss.lockAndRead({ keys: names, since: sinceOf(peekedAt) }));
  const refused = retryAfterSeconds(keys, peek.rows, peekedAt);
  if (refused !== undefined) return { throttled: true, retryAfterSeconds: refused };
  return withTransaction(deps.pool, async (client) => {
    const now = deps.clock();
    const since = sinceOf(now);
    const { rows } = await client.query<LookupMissRow>(lookupMiss.lockAndRead({ keys: names, since }));
    const retryAfter = retryAfterSeconds(keys, rows, now);
    if (retryAfter !== undefined) return { throttled: true, retryAfterSeconds: retryAfter };
    const result = await lookup(client);
    // Stamped when recorded, not when the lock was asked for: a miss that waited behind others
    // for the lock would otherwise leave the window early by that wait.
    if (result.miss) await client.query(lookupMiss.record({ keys: names, at: deps.clock(), since }));
    return { throttled: false, value: result.value };
  });
}

/**
 * Undefined when every key has room for one more miss; else the seconds until all of them do:
 * for a key with `n >= cap` misses, until the one whose leaving leaves `cap - 1` leaves the window.
 */
export function retryAfterSeconds(keys: readonly MissKey[], rows: readonly LookupMissRow[], now: Date) {
  let waitMs: number | undefined;
  keys.forEach((k, i) => {
    const misses = rows[i]?.misses ?? [];
    if (misses.length < k.cap) return;
    const leaving = misses[misses.length - k.cap] as Date;
    const ms = leaving.getTime() + LOOKUP_WINDOW_SECONDS * 1000 - now.getTime();
    waitMs = Math.max(waitMs ?? 0, ms);
  });
  return waitMs === undefined ? undefined : Math.max(1, Math.ceil(waitMs / 1000));
}
