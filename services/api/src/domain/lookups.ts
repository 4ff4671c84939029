import {
  type Channel,
  decrypt,
  digestPassword,
  type LifecycleEventData,
  type OtpPolicyContent,
  type OtpStatusContent,
  type PolicyDecision,
  type PolicyRule,
} from "@otp/contracts";
import type { OtpStatusRow } from "@otp/db";
import type { DomainDeps } from "./deps.js";
import { type Budgeted, passwordKeys, targetKeys, withMissBudget } from "./lookup-budget.js";

/**
 * What `GET /target` found. `ambiguous`: live codes of several targets have this code (a client
 * chose a code another target has; generated ones are unique), so none is named.
 */
export type TargetLookup =
  | { readonly kind: "found"; readonly target: string }
  | { readonly kind: "none" }
  | { readonly kind: "ambiguous" };

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
 * means unexpired, not closed and not killed by failed checks, as for a check. The first two count
 * their misses and are refused past OTP_LOOKUP_MISSES a minute (`lookup-budget.ts`).
 */
export function createLookups(deps: DomainDeps) {
  const { otp } = deps.sql;
  const live = () => ({ now: deps.clock(), maxFailures: deps.otp.maxCheckAttempts });

  return {
    /** The target of the live OTPs of `channel` with this code, if exactly one target has it. */
    targetOf(channel: Channel, password: string, ip?: string): Promise<Budgeted<TargetLookup>> {
      const passwordDigest = digestPassword(deps.keys, password);
      return withMissBudget<TargetLookup>(deps, targetKeys(deps.guessing.lookupMisses, channel, ip), async (db) => {
        const { rows } = await db.query<{ target: string }>(
          otp.targetsByDigest({ channel, passwordDigest, ...live() }),
        );
        const [first, second] = rows;
        if (!first) return { miss: true, value: { kind: "none" } };
        if (second) return { miss: true, value: { kind: "ambiguous" } };
        return { miss: false, value: { kind: "found", target: first.target } };
      });
    },

    /** The code of the newest live OTP of any of `targets` (one target's spellings), in any channel, if any. */
    passwordOf(targets: readonly string[]): Promise<Budgeted<PasswordLookup>> {
      return withMissBudget<PasswordLookup>(deps, passwordKeys(deps.guessing.lookupMisses), async (db) => {
        const { rows } = await db.query<{ id: string; password_cipher: Buffer }>(
          otp.newestOfTarget({ targets, ...live() }),
        );
        const row = rows[0];
        if (!row) return { miss: true, value: { kind: "none" } };
        try {
          return { miss: false, value: { kind: "found", password: decrypt(deps.keys, row.password_cipher, row.id) } };
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          // Answered as not found, so counted as a miss: uncounted, its 404 would tell a prober which
          // targets have a live code once OTP_SECRET changed (docs/security.md, "Lookups").
          return { miss: true, value: { kind: "undecryptable", id: row.id, reason } };
        }
      });
    },

    statusOf: (id: string) => statusOf(deps, id),
  };
}

export type Lookups = ReturnType<typeof createLookups>;

/** `GET /otp/{id}`: the delivery status, the policy's decision and the verification, as `otp_event_data` shows it. */
async function statusOf(deps: DomainDeps, id: string): Promise<OtpStatusContent | undefined> {
  const [{ rows }, policy, data] = await Promise.all([
    deps.pool.query<OtpStatusRow>(deps.sql.otp.statusById({ id })),
    policyOf(deps, id),
    eventDataOf(deps, id),
  ]);
  const row = rows[0];
  if (!row || !data) return undefined;
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
    ...(policy && { policy }),
    verification: verificationOf(data),
    metadata: data.metadata,
    test: data.test,
  };
}

/** How the destination policy judged the OTP (docs/policy.md); undefined when it was off. */
async function policyOf(deps: DomainDeps, id: string): Promise<OtpPolicyContent | undefined> {
  const { rows } = await deps.pool.query<{ decision: PolicyDecision; rule: PolicyRule | null }>(
    deps.sql.otpPolicy.decisionOf({ id }),
  );
  const row = rows[0];
  if (!row) return undefined;
  return row.rule === null ? { decision: row.decision } : { decision: row.decision, rule: row.rule };
}

/** The OTP as its events show it (`otp_event_data`, the one definition of its verification status). */
export async function eventDataOf(deps: DomainDeps, id: string): Promise<LifecycleEventData | undefined> {
  const { rows } = await deps.pool.query<{ data: LifecycleEventData | null }>(
    deps.sql.otpLifecycle.eventData({ id, now: deps.clock(), maxFailures: deps.otp.maxCheckAttempts }),
  );
  return rows[0]?.data ?? undefined;
}

/** `verification` with its time in the API's ISO form (jsonb writes the session's offset). */
export function verificationOf(data: LifecycleEventData): OtpStatusContent["verification"] {
  const { verified_at } = data.verification;
  return { ...data.verification, verified_at: verified_at === null ? null : new Date(verified_at).toISOString() };
}
