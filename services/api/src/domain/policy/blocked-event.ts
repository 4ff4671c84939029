import type { Query } from "@otp/db";
import type { DomainDeps } from "../deps.js";
import type { Objection } from "./judge.js";
import type { PolicedRequest } from "./policed-issue.js";

/**
 * `otp.blocked` (docs/lifecycle.md, "Events") for a create the destination policy refused in
 * enforce mode: sent in the refusal's own transaction when it has one (the counted rules), else as
 * a statement of its own before the refusal is answered (lists, hook), so that no refusal answered
 * goes without its event, and no accepted create has one. The target is masked by SQL.
 */
export function blockedEvent(deps: DomainDeps, request: PolicedRequest, country: string, objection: Objection): Query {
  return deps.sql.otpLifecycle.emitBlocked({
    at: deps.clock(),
    channel: request.channel,
    target: request.target,
    country,
    rule: objection.rule,
    statusCode: objection.refusal.code,
    metadata: request.metadata === undefined ? null : JSON.stringify(request.metadata),
  });
}
