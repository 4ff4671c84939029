import { createHash, randomBytes } from "node:crypto";
import { type Channel, digestPassword } from "@otp/contracts";
import type { CheckRow } from "@otp/db";
import type { DomainDeps } from "./deps.js";

/** `match`: the code is right. `mismatch`: wrong, or nothing to check. `attempts_exceeded`: every code is dead. */
export type CheckOutcome = "match" | "mismatch" | "attempts_exceeded";

export interface CheckRequest {
  readonly channel: Channel;
  readonly target: string;
  readonly password: string;
}

/**
 * Checks a code. The candidate rows are locked, so concurrent checks of one target run one after
 * the other: a burst of parallel guesses cannot all be compared against a code before the first
 * failures are counted. Compare, count and consume happen in the statement that holds the locks
 * (`check` in packages/db/src/sql/otp.ts, which also explains the constant-time comparison), so a
 * check is one round trip to PostgreSQL whatever its outcome.
 */
export function createChecker(deps: DomainDeps) {
  const { maxCheckAttempts, singleUse } = deps.otp;

  return async function check(request: CheckRequest): Promise<CheckOutcome> {
    const digest = digestPassword(deps.keys, request.password);
    const nonce = randomBytes(16);
    const blinded = createHash("sha256").update(digest).update(nonce).digest();
    const { rows } = await deps.pool.query<CheckRow>(
      deps.sql.otp.check({
        channel: request.channel,
        target: request.target,
        now: deps.clock(),
        nonce,
        blinded,
        maxFailures: maxCheckAttempts,
        singleUse,
      }),
    );
    const row = rows[0] as CheckRow;
    if (row.matched) return "match";
    if (row.live > 0) return "mismatch";
    return row.candidates > 0 ? "attempts_exceeded" : "mismatch";
  };
}
