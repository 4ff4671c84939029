import type { Tables } from "../schema.js";
import { appSecretSql } from "./app-secret.js";
import { checkBudgetSql } from "./check-budget.js";
import { limitRuleSql } from "./limit-rule.js";
import { lookupMissSql } from "./lookup-miss.js";
import { otpSql } from "./otp.js";
import { otpLifecycleSql } from "./otp-lifecycle.js";
import { otpPolicySql } from "./otp-policy.js";
import { otpStatsSql } from "./otp-stats.js";
import { otpWindowsSql } from "./otp-windows.js";
import { outboxSql } from "./outbox.js";
import { policySql } from "./policy.js";
import { policyBlockSql } from "./policy-block.js";
import { policyWindowsSql } from "./policy-windows.js";
import { retentionSql } from "./retention.js";
import { testTargetSql } from "./test-target.js";
import { webhookSql } from "./webhook.js";

export * from "./app-secret.js";
export * from "./check-budget.js";
export * from "./limit-rule.js";
export * from "./lookup-miss.js";
export * from "./otp.js";
export * from "./otp-delivery.js";
export * from "./otp-lifecycle.js";
export * from "./otp-policy.js";
export type { ReusableRow } from "./otp-reuse.js";
export * from "./otp-stats.js";
export * from "./otp-windows.js";
export * from "./outbox.js";
export * from "./policy.js";
export * from "./policy-block.js";
export * from "./policy-windows.js";
export * from "./retention.js";
export * from "./statement.js";
export * from "./test-target.js";
export * from "./webhook.js";
export * from "./webhook-delivery.js";

/**
 * Every hand-written statement of the service, per table, for the tables of one schema
 * (`createTables(config.pg.schema)`): their names come from the drizzle schema, so there is one
 * naming system. Build it once; the texts and prepared statement names are computed here.
 */
export function createSql(tables: Tables) {
  const otp = otpSql(tables);
  return {
    otp,
    otpWindows: otpWindowsSql(tables),
    limitRule: limitRuleSql(tables),
    outbox: outboxSql(tables),
    appSecret: appSecretSql(tables),
    checkBudget: checkBudgetSql(tables),
    lookupMiss: lookupMissSql(tables),
    policy: policySql(tables),
    policyBlock: policyBlockSql(tables),
    policyWindows: policyWindowsSql(tables),
    otpPolicy: otpPolicySql(tables, otp),
    otpStats: otpStatsSql(tables),
    testTarget: testTargetSql(tables),
    otpLifecycle: otpLifecycleSql(tables),
    webhook: webhookSql(tables),
    retention: retentionSql(tables),
  };
}

export type Sql = ReturnType<typeof createSql>;
