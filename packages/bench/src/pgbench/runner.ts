import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { PgConfig } from "@otp/contracts";
import { coresBetween, type Roles, snapshot } from "../cpu.js";
import { type Measurement, percentile } from "../load.js";

const run = promisify(execFile);

/**
 * The database baseline's runner: pgbench with a script (scripts.ts) and its variables, measured
 * like an HTTP run — throughput, exact latency percentiles from pgbench's per-transaction log, and
 * the CPU of every process group.
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

/** A warm-up run (discarded; `warm=1` keeps its rows apart from the measured run's), then the measured run. */
export async function pgbench(
  pg: PgConfig,
  spec: PgbenchRun,
  workDir: string,
  roles: Roles,
  warmupSeconds = 1,
): Promise<Measurement> {
  const scriptFile = join(workDir, "script.sql");
  writeFileSync(scriptFile, spec.script);
  const args = commonArgs(pg, spec, scriptFile);
  const env = { ...process.env, PGPASSWORD: pg.password };
  if (warmupSeconds > 0) {
    await run("pgbench", [...args, "-D", "warm=1", "-T", String(warmupSeconds), pg.database], { env });
  }
  for (const file of transactionLogs(workDir)) rmSync(file);
  const before = snapshot(roles);
  const logPrefix = join(workDir, "pgbench_log");
  const { stdout } = await run(
    "pgbench",
    [...args, "-D", "warm=0", "-T", String(spec.seconds), "-l", `--log-prefix=${logPrefix}`, pg.database],
    { env, maxBuffer: 16 * 1024 * 1024 },
  );
  const wall = (performance.now() - before.at) / 1000;
  // pgbench's backends end with it; the postmaster accounts their time once it has reaped them.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cores = coresBetween(before, snapshot(roles), wall);
  const sorted = latencies(workDir);
  return { ...summary(stdout), p50: percentile(sorted, 50), p99: percentile(sorted, 99), mismatches: 0, cores };
}

/** Connection, protocol, concurrency, the script and its variables (`-D name=value`). */
function commonArgs(pg: PgConfig, spec: PgbenchRun, scriptFile: string): string[] {
  return [
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
}

/** Throughput and counts from pgbench's summary on stdout. */
function summary(stdout: string): Pick<Measurement, "rps" | "requests" | "errors"> {
  return {
    rps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0),
    requests: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0),
    errors: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
  };
}

/** Each transaction's latency in ms, sorted, from the per-transaction logs (which are then removed). */
function latencies(workDir: string): Float64Array {
  const ms: number[] = [];
  for (const file of transactionLogs(workDir)) {
    // Per-transaction log lines: client_id transaction_no time_us script_no epoch us.
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const us = Number(line.split(" ")[2]);
      if (Number.isFinite(us) && line !== "") ms.push(us / 1000);
    }
    rmSync(file);
  }
  return Float64Array.from(ms).sort();
}

/** pgbench's per-transaction logs in `workDir` (`-l`: one file per thread). */
function transactionLogs(workDir: string): string[] {
  return readdirSync(workDir)
    .filter((f) => f.startsWith("pgbench_log"))
    .map((f) => join(workDir, f));
}
