import type { Tables } from "../schema.js";
import { ISSUE_PARAMS, type IssueParams, type OtpSql } from "./otp.js";
import { prepared, qualifiedName, statement } from "./statement.js";

/** What the policy made of a create, written with its OTP. */
export interface PolicyRecord {
  readonly country: string;
  readonly decision: string;
  readonly rule: string | null;
}

/**
 * The statements of `otp_policy`: how the destination policy judged each code it saw. The record
 * is written by the create's own statement (`issueRecorded`), so a policed create costs no extra
 * round trip for it.
 */
export function otpPolicySql(tables: Tables, otp: OtpSql) {
  const record = qualifiedName(tables.otpPolicy);
  const issue = otp.issue;
  return {
    /**
     * `otp_issue` as in `otp.issue` (same parameters, same `result` row), and, when it inserted,
     * the OTP's policy record.
     */
    issueRecorded: prepared<IssueParams & PolicyRecord>(
      "issue_recorded",
      [...ISSUE_PARAMS, "decision", "rule"],
      (p) => `WITH i AS (${issue.render((name) => p[name])}),
r AS (INSERT INTO ${record} (otp_id, channel, country, created_at, decision, rule)
  SELECT ${p.id}::uuid, ${p.channel}::text, ${p.country}::text, ${p.createdAt}::timestamptz, ${p.decision}::text, ${p.rule}::text
  FROM i WHERE i.result = 'inserted')
SELECT result FROM i`,
    ),

    /** `GET /otp/{id}`'s `policy`. Row: `decision`, `rule`; none when the policy was off. */
    decisionOf: statement<{ id: string }>(["id"], (p) => `SELECT decision, rule FROM ${record} WHERE otp_id = ${p.id}`),
  };
}

export type OtpPolicySql = ReturnType<typeof otpPolicySql>;
