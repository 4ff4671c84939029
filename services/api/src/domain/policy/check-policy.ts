import type { Policy, PolicyChannel } from "@otp/contracts";
import type { PolicyCountsRow } from "@otp/db";
import type pg from "pg";
import type { DomainDeps } from "../deps.js";
import { type FullWindow, judgeCounts, type Objection, planOf, secondsBetween } from "./judge.js";

/**
 * The counted part of the policy, inside the create's transaction, before the channel's `/limit`
 * rules: one round trip (`otp_policy_counts`) takes the budget's, the country's and the prefixes'
 * advisory locks and counts under them, so concurrent creates on any replica are judged one after
 * the other, and the send that crosses a threshold is the last one accepted. Only a refusal in
 * enforce mode costs more: the suspension it starts, and its `Retry-After`.
 *
 * Returns the first objection, undefined when the policy lets the code through, and the time the
 * windows were measured from. It is read before the locks are taken (the windows' cutoffs go with
 * the counting statement): a create that waited for another's lock counts from a moment that
 * waited, which only makes its windows reach a little further back (docs/policy.md, "How it
 * works").
 */
export async function checkPolicy(
  client: pg.ClientBase,
  deps: Pick<DomainDeps, "sql" | "clock">,
  request: { readonly channel: PolicyChannel; readonly target: string },
  policy: Policy,
  country: string,
): Promise<{ objection: Objection | undefined; now: Date }> {
  const now = deps.clock();
  const plan = planOf(policy, request.channel, request.target, country, now);
  const { rows } = await client.query<PolicyCountsRow>(deps.sql.policyWindows.counts(plan.params));
  const row = rows[0];
  if (!row) throw new Error("otp_policy_counts returned no row");
  const objection = judgeCounts(plan, row, now);
  if (!objection || policy.mode !== "enforce") return { objection, now };
  if (objection.trip) {
    const { trip } = objection;
    await client.query(
      deps.sql.policyBlock.trip({ channel: request.channel, rule: objection.rule, since: now, ...trip }),
    );
  }
  if (!objection.full) return { objection, now };
  const retryAfterSeconds = await retryAfterOf(client, deps, request.channel, objection.full, now);
  return { objection: { ...objection, refusal: { ...objection.refusal, retryAfterSeconds } }, now };
}

/** When every full window has room again: the latest of the times their rate-th newest code leaves. */
async function retryAfterOf(
  client: pg.ClientBase,
  deps: Pick<DomainDeps, "sql">,
  channel: PolicyChannel,
  full: readonly FullWindow[],
  now: Date,
): Promise<number> {
  let seconds = 1;
  for (const w of full) {
    const { rows } = await client.query<{ created_at: Date }>(
      deps.sql.policyWindows.leaving(w.kind, { channel, value: w.value, cutoff: w.cutoff, rate: w.rule.rate }),
    );
    const leaving = rows[0]?.created_at;
    if (leaving) {
      seconds = Math.max(seconds, secondsBetween(now, new Date(leaving.getTime() + w.rule.minutes * 60_000)));
    }
  }
  return seconds;
}
