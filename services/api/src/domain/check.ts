import { timingSafeEqual } from "node:crypto";
import { type Channel, digestPassword } from "@otp/contracts";
import { withTransaction } from "../db/transaction.js";
import { type DomainDeps, isAlive } from "./deps.js";

/** `match`: the code is right. `mismatch`: wrong, or nothing to check. `attempts_exceeded`: every code is dead. */
export type CheckOutcome = "match" | "mismatch" | "attempts_exceeded";

export interface CheckRequest {
  readonly channel: Channel;
  readonly target: string;
  readonly password: string;
}

/** Resends make several live codes per target possible; more than this many is not a real client. */
const MAX_CANDIDATES = 100;

interface Candidate {
  readonly id: string;
  readonly password_digest: Buffer;
  readonly failed_checks: number;
}

/**
 * Checks a code (SPEC §3). The candidate rows are locked (FOR UPDATE), so concurrent checks of one
 * target run one after the other: a burst of parallel guesses cannot all be compared against a
 * code before the first failures are counted. The digest is compared with every live candidate in
 * constant time, without stopping at the first match.
 */
export function createChecker(deps: DomainDeps) {
  const { otp } = deps.tables;
  const select = `SELECT id, password_digest, failed_checks FROM ${otp}
WHERE channel = $1 AND target = $2 AND expire_at > $3 AND used_at IS NULL
ORDER BY created_at DESC LIMIT ${MAX_CANDIDATES} FOR UPDATE`;
  const countFailure = `UPDATE ${otp} SET failed_checks = failed_checks + 1 WHERE id = ANY($1::uuid[])`;
  const consume = `UPDATE ${otp} SET used_at = $2 WHERE id = $1`;
  const { maxCheckAttempts, singleUse } = deps.otp;

  return async function check(request: CheckRequest): Promise<CheckOutcome> {
    const digest = digestPassword(deps.keys, request.password);
    return withTransaction(deps.pool, async (client) => {
      const now = deps.clock();
      const { rows } = await client.query<Candidate>(select, [request.channel, request.target, now]);
      const live = rows.filter((row) => isAlive(row.failed_checks, maxCheckAttempts));
      let matched: Candidate | undefined;
      for (const row of live) {
        const equal = row.password_digest.length === digest.length && timingSafeEqual(row.password_digest, digest);
        if (equal && !matched) matched = row;
      }
      if (matched) {
        if (singleUse) await client.query(consume, [matched.id, now]);
        return "match";
      }
      if (live.length > 0) {
        await client.query(countFailure, [live.map((row) => row.id)]);
        return "mismatch";
      }
      return rows.length > 0 ? "attempts_exceeded" : "mismatch";
    });
  };
}
