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
