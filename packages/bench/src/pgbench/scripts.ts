import { createSql, createTables, type Statement } from "@otp/db";

/**
 * The database baseline's scripts: the statements the API sends for one request, taken from the
 * API's own source (so they cannot drift), at the same concurrency. Named parameters become
 * pgbench variables, sent as parameters too (pgbench -M extended or prepared). Values that pgbench
 * cannot make (uuids) are computed in SQL from pgbench's integers: `md5(...)::uuid`.
 */

const sql = createSql(createTables("public"));

/** A statement's text for pgbench: each parameter is its expression in `map`, else the variable `:p_<name>`. */
function pgbenchText<P>(statement: Statement<P>, map: Partial<Record<keyof P & string, string>>): string {
  return statement.render((name) => map[name] ?? `:p_${name}`).replaceAll("\n", " ");
}

/**
 * `POST /sms`: the guarded create of the OTP and its outbox row (one statement, no transaction),
 * and every `batch`-th transaction the batched delete of the outbox rows published meanwhile, as
 * the API's DeleteBatcher sends it (one `DELETE … WHERE id = ANY(…)` per flush).
 */
export function createScript(batch: number): { script: string; vars: (run: number) => Record<string, string> } {
  const uuid = (kind: string) =>
    `md5(:run::text || '-' || :warm::text || '-' || :client_id::text || '-${kind}' || :n::text)::uuid`;
  // No metadata, and the country the API reads from a `7` phone (docs/lifecycle.md).
  const insert = pgbenchText(sql.otp.issue, {
    id: uuid("o"),
    target: ":phone",
    eventId: uuid("e"),
    metadata: "NULL",
    country: "'KZ'",
  });
  const batchIds = `ARRAY(SELECT md5(:run::text || '-' || :warm::text || '-' || :client_id::text || '-e' || g::text)::uuid FROM generate_series(:n - ${batch} + 1, :n) AS g)`;
  const script = `\\set n :n + 1
\\set phone 79000000000 + :run * 1000000000 + :warm * 500000000 + :client_id * 1000000 + :n
${insert};
\\if :n % ${batch} = 0
${pgbenchText(sql.outbox.deletePublished, { ids: batchIds })};
\\endif
`;
  return {
    script,
    vars: (run) => ({ run: String(run), n: "0" }),
  };
}

/** `GET /sms/check` that succeeds: the check statement (it locks, compares and counts in one). */
export function checkScript(): string {
  return `\\set phone ${CHECK_PHONE_BASE} + random(1, :created)
${pgbenchText(sql.otp.check, { target: ":phone", ip: "NULL", only: "NULL" })};
`;
}

/** Phones of the OTPs the API load creates (and the checks check): this plus 1, 2, 3 … */
export const CHECK_PHONE_BASE = 77_000_000_000;

/** pgbench -D values for the parameters pgbench passes unchanged: hex for bytea, text otherwise. */
export function fixedParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, v]) => [`p_${name}`, v]));
}
