import { decrypt, sentTextProblems } from "@otp/contracts";
import type { ReusableRow } from "@otp/db";
import type pg from "pg";
import type { DomainDeps } from "./deps.js";
import type { IssueRequest } from "./issue.js";

/**
 * OTP_RESEND=reuse (docs/security.md, "Resends and single use"): a create for a target with a live
 * code sends that code again, as a new OTP row with the old code's expiry, inside the create's
 * transaction and under the target's lock.
 */

/** The live code sent again: its row, the code, and the expiry it keeps. */
export interface Reused {
  readonly id: string;
  readonly password: string;
  readonly generated: boolean;
  readonly expireAt: Date;
}

type ReuseDeps = Pick<DomainDeps, "guessing" | "sql" | "otp" | "keys">;

/** The target's live code, not yet verified, with more than a minute left; locked until commit. */
export async function reusableCode(
  deps: ReuseDeps,
  client: pg.ClientBase,
  request: Pick<IssueRequest, "channel" | "target" | "password" | "texts">,
  now: Date,
): Promise<Reused | undefined> {
  if (deps.guessing.resend !== "reuse" || request.password !== undefined) return undefined;
  const { rows } = await client.query<ReusableRow>(
    deps.sql.otp.reusable({
      channel: request.channel,
      target: request.target,
      now,
      maxFailures: deps.otp.maxCheckAttempts,
    }),
  );
  const row = rows[0];
  if (!row) return undefined;
  let password: string;
  try {
    password = decrypt(deps.keys, row.reused_cipher, row.reused_id);
  } catch {
    // Sealed under another OTP_SECRET: it could not be sent again; a new code supersedes it.
    return undefined;
  }
  // The texts were measured with a generated code's length: a client's own code, up to 128
  // characters, may not fit them. A new code supersedes it then (docs/security.md, "Resends and single use").
  if (sentTextProblems(request.channel, request.texts, password).length > 0) return undefined;
  return { id: row.reused_id, password, generated: row.reused_generated, expireAt: row.reused_expire_at };
}

/**
 * The copy keeps the wrong checks its code already took: it is the same code to whoever guesses
 * it, so a resend must not give it a fresh allowance of OTP_MAX_CHECK_ATTEMPTS.
 */
export async function carryFailures(
  deps: Pick<DomainDeps, "sql" | "otp">,
  client: pg.ClientBase,
  reused: Reused,
  copyId: string,
): Promise<void> {
  await client.query(
    deps.sql.otp.carryFailures({ from: reused.id, to: copyId, maxFailures: deps.otp.maxCheckAttempts }),
  );
}
