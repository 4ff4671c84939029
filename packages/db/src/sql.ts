import { createHash } from "node:crypto";
import type pg from "pg";

/** A SQL identifier, quoted. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Schema-qualified names of the tables, for hand-written SQL. Every hand-written statement names its
 * tables through these, so `PG_SCHEMA` is honoured without `SET search_path` (which would not stick
 * behind a transaction-mode pooler).
 */
export interface TableNames {
  readonly schema: string;
  readonly otp: string;
  readonly limitRule: string;
  readonly outbox: string;
}

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

/**
 * Whether PostgreSQL answers `SELECT 1` within `timeoutMs`: health probes answer promptly instead
 * of waiting out a pool's connect timeout.
 */
export async function databaseAnswers(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const query = pool.query("SELECT 1").then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
