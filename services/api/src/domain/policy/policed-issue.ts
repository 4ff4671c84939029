import { countryOfPhone, type Policy, type PolicyChannel, type PolicyDecision, type PolicyRule } from "@otp/contracts";
import { withTransaction } from "../../db/transaction.js";
import type { DomainDeps } from "../deps.js";
import type { IssueOutcome, IssueRequest, LimitedInsert } from "../issue.js";
import { requireIpForIpRules } from "../rate-limit.js";
import { blockedEvent } from "./blocked-event.js";
import { checkPolicy } from "./check-policy.js";
import { guardPrefixOf, judgeLists, type Objection } from "./judge.js";

/** What the process reports of the policy's work: `otp_policy_decisions_total`, the hook's metric and log. */
export interface PolicyEvents {
  decided(channel: PolicyChannel, rule: PolicyRule | "none", decision: PolicyDecision): void;
  hookAnswered(channel: PolicyChannel, result: string): void;
}

export type PolicedRequest = IssueRequest & { readonly channel: PolicyChannel };

/**
 * A create on a phone channel whose policy is `monitor` or `enforce`, judged in the policy's order
 * (docs/policy.md, "The order"): the safelist, the country and prefix lists and the pre-send hook
 * before any transaction (the hook's wait holds no connection and no lock); then, in the create's
 * transaction, the counted rules (`checkPolicy`), then the channel's `/limit` rules and the insert,
 * which also records the decision and the country (`otp_policy`). Enforce mode refuses at the first
 * objection; monitor mode accepts and records it as `would_block`.
 */
export function createPolicedIssue(deps: DomainDeps, limitedInsert: LimitedInsert) {
  return async function issuePoliced(request: PolicedRequest, policy: Policy): Promise<IssueOutcome> {
    const { channel, target } = request;
    const enforce = policy.mode === "enforce";
    const country = countryOfPhone(target);
    const listed = judgeLists(policy, channel, target, country);
    const early = listed ?? (await askHook(deps, request, policy, country));
    if (enforce && early !== undefined && early !== "safelist") {
      deps.policyEvents.decided(channel, early.rule, "block");
      await deps.pool.query(blockedEvent(deps, request, country, early));
      return { accepted: false, refusal: early.refusal };
    }
    const result = await withTransaction(deps.pool, async (client) => {
      const objection =
        early === undefined ? (await checkPolicy(client, deps, request, policy, country)).objection : early;
      if (objection === "safelist" || objection === undefined) {
        const rule = objection === "safelist" ? "safelist" : null;
        const record = { country, decision: "allow", rule };
        return { objection, outcome: await limitedInsert(client, request, { tryGuarded: true, record }) };
      }
      if (enforce) {
        await client.query(blockedEvent(deps, request, country, objection));
        return { objection, outcome: { accepted: false, refusal: objection.refusal } as const };
      }
      const record = { country, decision: "would_block", rule: objection.rule };
      return { objection, outcome: await limitedInsert(client, request, { tryGuarded: true, record }) };
    });
    report(deps, channel, enforce, result.objection);
    return result.outcome;
  };
}

function report(
  deps: DomainDeps,
  channel: PolicyChannel,
  enforce: boolean,
  objection: Objection | "safelist" | undefined,
) {
  if (objection === undefined) deps.policyEvents.decided(channel, "none", "allow");
  else if (objection === "safelist") deps.policyEvents.decided(channel, "safelist", "allow");
  else deps.policyEvents.decided(channel, objection.rule, enforce ? "block" : "would_block");
}

/**
 * The hook's word, when one is configured: an objection for `deny`, and for a failure (timeout,
 * error, an answer that is neither) when `OTP_PRESEND_HOOK_FAIL=closed`.
 */
async function askHook(
  deps: DomainDeps,
  request: PolicedRequest,
  policy: Policy,
  country: string,
): Promise<Objection | undefined> {
  const hook = deps.presendHook;
  if (!hook) return undefined;
  // Bad input is refused before the number leaves the process (one read, only for a request
  // without an ip: the hook's own round trip costs far more).
  await requireIpForIpRules(deps, request);
  const { channel, target } = request;
  const result = await hook.ask({
    channel,
    target,
    country,
    prefix: guardPrefixOf(policy, target),
    ip: request.ip ?? null,
  });
  deps.policyEvents.hookAnswered(channel, result);
  if (result === "allow" || (result !== "deny" && hook.fail === "open")) return undefined;
  const message =
    result === "deny"
      ? "The pre-send hook denied this number"
      : `The pre-send hook failed (${result}); refused, as configured`;
  return { rule: "hook", refusal: { code: "hook_denied", message } };
}
