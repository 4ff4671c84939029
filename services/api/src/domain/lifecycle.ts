import type { Channel, OtpStatusContent } from "@otp/contracts";
import type { CancelRow } from "@otp/db";
import type { Checker, CheckResult } from "./check.js";
import type { DomainDeps } from "./deps.js";
import type { Lookups } from "./lookups.js";

/** What a check by id did: undefined for an unknown id. */
export type CheckByIdResult = { readonly channel: Channel; readonly target: string; readonly result: CheckResult };

/** What `DELETE /otp/{id}` did, with the OTP's state after it; undefined for an unknown id. */
export type CancelResult = { readonly result: CancelRow["result"]; readonly status: OtpStatusContent };

/**
 * Check and cancel by id (docs/lifecycle.md, "Check and cancel by id"). A check by id is the
 * channel check of the OTP's channel and target (`otp_check`: the same lock, failure budget and
 * throttle) told that only this OTP's code may match.
 */
export function createLifecycle(deps: DomainDeps, check: Checker, lookups: Lookups) {
  const { otpLifecycle } = deps.sql;
  return {
    async checkById(id: string, password: string, ip: string | undefined): Promise<CheckByIdResult | undefined> {
      const { rows } = await deps.pool.query<{ channel: Channel; target: string }>(otpLifecycle.targetOf({ id }));
      const otp = rows[0];
      if (!otp) return undefined;
      const result = await check({ channel: otp.channel, target: otp.target, password, ip, only: id });
      return { ...otp, result };
    },

    /** Cancels a pending code: idempotent; an approved, expired or dead code is refused (`refused`). */
    async cancel(id: string): Promise<CancelResult | undefined> {
      const { rows } = await deps.pool.query<CancelRow>(
        otpLifecycle.cancel({ id, now: deps.clock(), maxFailures: deps.otp.maxCheckAttempts }),
      );
      const row = rows[0];
      if (!row) return undefined;
      const status = await lookups.statusOf(id);
      if (!status) return undefined;
      return { result: row.result, status };
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
