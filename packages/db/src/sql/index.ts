import type { Tables } from "../schema.js";
import { appSecretSql } from "./app-secret.js";
import { checkBudgetSql } from "./check-budget.js";
import { limitRuleSql } from "./limit-rule.js";
import { lookupMissSql } from "./lookup-miss.js";
import { otpSql } from "./otp.js";
import { otpWindowsSql } from "./otp-windows.js";
import { outboxSql } from "./outbox.js";

export * from "./app-secret.js";
export * from "./check-budget.js";
export * from "./limit-rule.js";
export * from "./lookup-miss.js";
export * from "./otp.js";
export * from "./otp-delivery.js";
export * from "./otp-windows.js";
export * from "./outbox.js";
export * from "./statement.js";

/**
 * Every hand-written statement of the service, per table, for the tables of one schema
 * (`createTables(config.pg.schema)`): their names come from the drizzle schema, so there is one
 * naming system. Build it once; the texts and prepared statement names are computed here.
 */
export function createSql(tables: Tables) {
  return {
    otp: otpSql(tables),
    otpWindows: otpWindowsSql(tables),
    limitRule: limitRuleSql(tables),
    outbox: outboxSql(tables),
    appSecret: appSecretSql(tables),
    checkBudget: checkBudgetSql(tables),
    lookupMiss: lookupMissSql(tables),
  };
}

export type Sql = ReturnType<typeof createSql>;
