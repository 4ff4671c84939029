import { createHash, randomBytes } from "node:crypto";
import { type Channel, digestPassword } from "@otp/contracts";
import { statementName, type TableNames } from "@otp/db";
import type { DomainDeps } from "./deps.js";

/** `match`: the code is right. `mismatch`: wrong, or nothing to check. `attempts_exceeded`: every code is dead. */
export type CheckOutcome = "match" | "mismatch" | "attempts_exceeded";

export interface CheckRequest {
  readonly channel: Channel;
  readonly target: string;
  readonly password: string;
}

/** Resends make several live codes per target possible; more than this many is not a real client. */
const MAX_CANDIDATES = 100;

/**
 * The whole check as one statement (one round trip, its own implicit transaction):
 *  - `c` locks the candidate rows (FOR UPDATE): a concurrent check of the same target waits for
 *    this statement to commit and then reads the rows as this one left them, failures counted;
 *  - `live` keeps those below the failure limit ($6, 0 = none);
 *  - `m` is the newest live candidate whose blinded digest equals the blinded guess;
 *  - `fail` adds a failure to every live candidate when none matched; `used` consumes the match
 *    when $7 (OTP_SINGLE_USE).
 * Parameters: $1 channel, $2 target, $3 now, $4 a fresh random nonce, $5 sha256(guess digest ‖ nonce),
 * $6 max failures, $7 single use.
 *
 * Constant time: the stored HMAC digest is never compared with the guess's digest itself, but
 * sha256(stored ‖ nonce) with sha256(guess ‖ nonce) for a nonce drawn per check (the "double HMAC"
 * blinding): where PostgreSQL's byte comparison stops tells nothing about the password, since the
 * compared values are unpredictable to the caller. Every candidate is hashed and compared.
 */
export function checkStatements({ otp }: TableNames) {
  return {
    check: `WITH c AS (
  SELECT id, created_at, failed_checks, sha256(password_digest || $4::bytea) = $5::bytea AS ok FROM ${otp}
  WHERE channel = $1::text AND target = $2::text AND expire_at > $3::timestamptz AND used_at IS NULL
  ORDER BY created_at DESC LIMIT ${MAX_CANDIDATES} FOR UPDATE
), live AS (
  SELECT id, created_at, ok FROM c WHERE $6::int = 0 OR failed_checks < $6::int
), m AS (
  SELECT id FROM live WHERE ok ORDER BY created_at DESC LIMIT 1
), fail AS (
  UPDATE ${otp} SET failed_checks = failed_checks + 1
  WHERE id IN (SELECT id FROM live) AND NOT EXISTS (SELECT 1 FROM m) RETURNING id
), used AS (
  UPDATE ${otp} SET used_at = $3::timestamptz WHERE $7::boolean AND id IN (SELECT id FROM m) RETURNING id
)
SELECT EXISTS (SELECT 1 FROM m) AS matched, (SELECT count(*) FROM live)::int AS live,
  (SELECT count(*) FROM c)::int AS candidates, (SELECT count(*) FROM fail)::int AS failed,
  (SELECT count(*) FROM used)::int AS used`,
  };
}

interface CheckRow {
  readonly matched: boolean;
  readonly live: number;
  readonly candidates: number;
}

/**
 * Checks a code (SPEC §3). The candidate rows are locked, so concurrent checks of one target run
 * one after the other: a burst of parallel guesses cannot all be compared against a code before the
 * first failures are counted. Compare, count and consume happen in the statement that holds the
 * locks, so a check is one round trip to PostgreSQL whatever its outcome.
 */
export function createChecker(deps: DomainDeps) {
  const { check: text } = checkStatements(deps.tables);
  const name = statementName("check", text);
  const { maxCheckAttempts, singleUse } = deps.otp;

  return async function check(request: CheckRequest): Promise<CheckOutcome> {
    const digest = digestPassword(deps.keys, request.password);
    const nonce = randomBytes(16);
    const blinded = createHash("sha256").update(digest).update(nonce).digest();
    const now = deps.clock();
    const { rows } = await deps.pool.query<CheckRow>({
      name,
      text,
      values: [request.channel, request.target, now, nonce, blinded, maxCheckAttempts, singleUse],
    });
    const row = rows[0] as CheckRow;
    if (row.matched) return "match";
    if (row.live > 0) return "mismatch";
    return row.candidates > 0 ? "attempts_exceeded" : "mismatch";
  };
}
