import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { PgConfig } from "@otp/contracts";
import { createSql, createTables, type Statement } from "@otp/db";
import { coresBetween, type Roles, snapshot } from "./cpu.js";
import { type Measurement, percentile } from "./load.js";

const run = promisify(execFile);

/**
 * The database baseline: pgbench running the statements the API sends for one request, taken from
 * the API's own source (so they cannot drift), at the same concurrency. Named parameters become
 * pgbench variables, sent as parameters too (pgbench -M extended or prepared). Values that pgbench
 * cannot make (uuids) are computed in SQL from pgbench's integers: `md5(...)::uuid`.
 */

/** `-M extended`: Parse/Bind/Execute per statement, like node-postgres without a statement name. */
export type Protocol = "extended" | "prepared";

export interface PgbenchRun {
  readonly script: string;
  readonly vars: Record<string, string>;
  readonly connections: number;
  readonly seconds: number;
  readonly protocol: Protocol;
}

export async function pgbench(
  pg: PgConfig,
  spec: PgbenchRun,
  workDir: string,
  roles: Roles,
  warmupSeconds = 1,
): Promise<Measurement> {
  const scriptFile = join(workDir, "script.sql");
  writeFileSync(scriptFile, spec.script);
  const logPrefix = join(workDir, "pgbench_log");
  const base = [
    "-n",
    "-h",
    pg.realHost,
    "-p",
    String(pg.port),
    "-U",
    pg.user,
    "-M",
    spec.protocol,
    "-c",
    String(spec.connections),
    "-j",
    String(Math.min(spec.connections, 2)),
    "-f",
    scriptFile,
    ...Object.entries(spec.vars).flatMap(([k, v]) => ["-D", `${k}=${v}`]),
  ];
  const env = { ...process.env, PGPASSWORD: pg.password };
  if (warmupSeconds > 0) {
    await run("pgbench", [...base, "-D", "warm=1", "-T", String(warmupSeconds), pg.database], { env });
  }
  for (const f of readdirSync(workDir)) if (f.startsWith("pgbench_log")) rmSync(join(workDir, f));
  const before = snapshot(roles);
  const { stdout } = await run(
    "pgbench",
    [...base, "-D", "warm=0", "-T", String(spec.seconds), "-l", `--log-prefix=${logPrefix}`, pg.database],
    { env, maxBuffer: 16 * 1024 * 1024 },
  );
  const wall = (performance.now() - before.at) / 1000;
  // pgbench's backends end with it; the postmaster accounts their time once it has reaped them.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cores = coresBetween(before, snapshot(roles), wall);
  const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0);
  // Per-transaction log lines: client_id transaction_no time_us script_no epoch us.
  const latencies: number[] = [];
  for (const f of readdirSync(workDir)) {
    if (!f.startsWith("pgbench_log")) continue;
    for (const line of readFileSync(join(workDir, f), "utf8").split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (Number.isFinite(us) && line !== "") latencies.push(us / 1000);
    }
    rmSync(join(workDir, f));
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: tps,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    requests: processed,
    errors: failed,
    mismatches: 0,
    cores,
  };
}

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
  const insert = pgbenchText(sql.otp.issue, { id: uuid("o"), target: ":phone", eventId: uuid("e") });
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
${pgbenchText(sql.otp.check, { target: ":phone", ip: "NULL" })};
`;
}

/** Phones of the OTPs the API load creates (and the checks check): this plus 1, 2, 3 … */
export const CHECK_PHONE_BASE = 77_000_000_000;

/** pgbench -D values for the parameters pgbench passes unchanged: hex for bytea, text otherwise. */
export function fixedParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, v]) => [`p_${name}`, v]));
}
