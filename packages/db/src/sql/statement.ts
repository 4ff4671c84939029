import { createHash } from "node:crypto";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";

/** What node-postgres' `query()` takes: the text, the parameters in order, and a name when prepared. */
export interface Query {
  readonly name?: string;
  readonly text: string;
  readonly values: unknown[];
}

/** The placeholder (`$1`, `$2` …) of each named parameter, handed to the function that writes a text. */
export type Placeholders<P> = { readonly [K in keyof P]-?: string };

/** A statement taking its parameters by name: call it with them to get the query to send. */
export interface Statement<P> {
  (params: P): Query;
  readonly text: string;
  /** The text with each parameter written as `as(name)` instead of `$n`, e.g. as a pgbench variable. */
  render(as: (name: keyof P & string) => string): string;
}

/** A SQL identifier, quoted. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * The schema a table of `createTables(schema)` lives in. The `public` instance is built without a
 * schema (migrations are generated from it), and stands for `public`.
 */
export const schemaOf = (table: PgTable): string => getTableConfig(table).schema ?? "public";

/**
 * The schema-qualified name of a drizzle table, for hand-written SQL: every statement names its
 * tables so, which honours `PG_SCHEMA` without `SET search_path` (which would not stick behind a
 * transaction-mode pooler).
 */
export const qualifiedName = (table: PgTable): string =>
  `${quoteIdent(schemaOf(table))}.${quoteIdent(getTableConfig(table).name)}`;

/**
 * The schema-qualified name of one of the service's SQL functions (created by the migrations in
 * the schema of the tables, beside `table`).
 */
export const qualifiedFunction = (table: PgTable, name: string): string =>
  `${quoteIdent(schemaOf(table))}.${quoteIdent(name)}`;

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
 * A statement whose parameters are passed as one object. `order` gives each name its position
 * (the first is `$1`), and `build` writes the text with the placeholders of those names, so the
 * text and the values sent with it are built from the same list. A name missing from `order` is
 * an error when the text is built, not a parameter silently sent as null.
 */
export function statement<P>(
  order: readonly (keyof P & string)[],
  build: (p: Placeholders<P>) => string,
): Statement<P> {
  return define(order, build, undefined);
}

/** A {@link statement} sent as a named prepared statement (see {@link statementName}). */
export function prepared<P>(
  purpose: string,
  order: readonly (keyof P & string)[],
  build: (p: Placeholders<P>) => string,
): Statement<P> {
  return define(order, build, purpose);
}

function define<P>(
  order: readonly (keyof P & string)[],
  build: (p: Placeholders<P>) => string,
  purpose: string | undefined,
): Statement<P> {
  const text = build(placeholders(order, (_, position) => `$${position}`));
  const name = purpose === undefined ? undefined : statementName(purpose, text);
  const query = (params: P): Query => {
    const values = order.map((key) => sqlValue(params[key]));
    return name === undefined ? { text, values } : { name, text, values };
  };
  return Object.assign(query, {
    text,
    render: (as: (name: keyof P & string) => string) => build(placeholders(order, as)),
  });
}

/**
 * A parameter as sent: a `Date` as its ISO 8601 text in UTC (every statement casts its times to
 * `timestamptz`, so the instant is the same). node-postgres would write it in local time, field by
 * field, which the check's profile showed at about 2 µs per date; `toISOString` is native.
 */
function sqlValue(value: unknown): unknown {
  if (!(value instanceof Date)) return value;
  // Years 1–9999 only (an invalid date has NaN): other dates go to node-postgres as before.
  const year = value.getUTCFullYear();
  return year >= 1 && year <= 9999 ? value.toISOString() : value;
}

function placeholders<P>(
  order: readonly (keyof P & string)[],
  as: (name: keyof P & string, position: number) => string,
): Placeholders<P> {
  const positions = new Map<string, number>(order.map((key, i) => [key, i + 1]));
  return new Proxy({} as Placeholders<P>, {
    get(_, key) {
      const position = typeof key === "string" ? positions.get(key) : undefined;
      if (position === undefined) throw new Error(`SQL parameter ${String(key)} is not in the statement's list`);
      return as(key as keyof P & string, position);
    },
  });
}

/** A duration of the code's fixed constants, as an SQL literal (the functions take them as parameters); never input. */
export const secondsInterval = (n: number) => `interval '${Number(n)} seconds'`;
