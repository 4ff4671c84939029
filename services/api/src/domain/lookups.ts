import { type Channel, decrypt, digestPassword, type OtpStatusContent } from "@otp/contracts";
import type { OtpStatusRow } from "@otp/db";
import type { DomainDeps } from "./deps.js";

/**
 * What `GET /password` found. `undecryptable` is a row sealed under another key (OTP_SECRET was
 * changed since it was issued, or the bytes are damaged): no code can be revealed, and that is the
 * operator's business, not the client's, so the caller answers "not found" and logs it.
 */
export type PasswordLookup =
  | { readonly kind: "found"; readonly password: string }
  | { readonly kind: "none" }
  | { readonly kind: "undecryptable"; readonly id: string; readonly reason: string };

/**
 * The lookups `GET /target`, `GET /password` and the delivery status of `GET /otp/{id}`. "Live"
 * means unexpired, not closed and not killed by failed checks, as for a check.
 */
export function createLookups(deps: DomainDeps) {
  const { otp } = deps.sql;
  const live = () => ({ now: deps.clock(), maxFailures: deps.otp.maxCheckAttempts });

  return {
    /** The target of the newest live OTP of `channel` with this code, if any. */
    async targetOf(channel: Channel, password: string): Promise<string | undefined> {
      const passwordDigest = digestPassword(deps.keys, password);
      const { rows } = await deps.pool.query<{ target: string }>(
        otp.targetsByDigest({ channel, passwordDigest, ...live() }),
      );
      return rows[0]?.target;
    },

    /** The code of the newest live OTP of `target`, in any channel, if any. */
    async passwordOf(target: string): Promise<PasswordLookup> {
      const { rows } = await deps.pool.query<{ id: string; password_cipher: Buffer }>(
        otp.newestOfTarget({ target, ...live() }),
      );
      const row = rows[0];
      if (!row) return { kind: "none" };
      try {
        return { kind: "found", password: decrypt(deps.keys, row.password_cipher, row.id) };
      } catch (error) {
        return { kind: "undecryptable", id: row.id, reason: error instanceof Error ? error.message : String(error) };
      }
    },

    async statusOf(id: string): Promise<OtpStatusContent | undefined> {
      const { rows } = await deps.pool.query<OtpStatusRow>(otp.statusById({ id }));
      const row = rows[0];
      if (!row) return undefined;
      return {
        id: row.id,
        channel: row.channel,
        created_at: row.created_at.toISOString(),
        expire_at: row.expire_at.toISOString(),
        delivery: {
          status: row.delivery_status,
          attempts: row.delivery_attempts,
          last_error: row.delivery_last_error,
          delivered_at: row.delivered_at?.toISOString() ?? null,
        },
      };
    },
  };
}

export type Lookups = ReturnType<typeof createLookups>;
