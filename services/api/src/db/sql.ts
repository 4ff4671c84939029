import { createHash } from "node:crypto";

/**
 * Schema-qualified names of the tables, for hand-written SQL. Every statement of the API names its
 * tables through these, so `PG_SCHEMA` is honoured without `SET search_path` (which would not stick
 * behind a transaction-mode pooler).
 */
export interface TableNames {
  readonly schema: string;
  readonly otp: string;
  readonly limitRule: string;
  readonly outbox: string;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

export function tableNames(schema: string): TableNames {
  const q = (table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;
  return { schema, otp: q("otp"), limitRule: q("limit_rule"), outbox: q("outbox") };
}

/**
 * A name for a statement that PostgreSQL should parse and plan once per connection (a named
 * prepared statement) instead of on every execution: for the hot statements, whose planning cost
 * more than their execution (the check's was 2/3 of PostgreSQL's CPU per check). The name carries
 * a hash of the text, so two texts (two schemas) never share one. Behind PgBouncer in transaction
 * mode this needs PgBouncer ≥ 1.21 with `max_prepared_statements` > 0.
 */
export function statementName(purpose: string, text: string): string {
  return `otp_${purpose}_${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}
