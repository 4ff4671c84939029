import type { Measurement } from "../load.js";
import { int } from "./format.js";

/**
 * CPU milliseconds per request, by process group, over several runs of the same request: each
 * run's cores × 1000 ÷ its rate, averaged (docs/capacity.md takes its costs from these).
 */
export function msPerRequest(runs: readonly Measurement[], role: string): number {
  const each = runs.filter((m) => m.rps > 0).map((m) => (1000 * (m.cores[role] ?? 0)) / m.rps);
  return each.length === 0 ? Number.NaN : each.reduce((a, b) => a + b, 0) / each.length;
}

/** The mean of a figure over runs. */
export function mean(runs: readonly Measurement[], figure: (m: Measurement) => number): number {
  return runs.length === 0 ? Number.NaN : runs.reduce((sum, m) => sum + figure(m), 0) / runs.length;
}

/** One row of a cost table: the service's (or peer's) process, PostgreSQL, RabbitMQ, the load generator, the machine. */
export function costCells(runs: readonly Measurement[], processRole: string): string {
  const f = (role: string) => {
    const v = msPerRequest(runs, role);
    return Number.isNaN(v) ? "–" : v.toFixed(2);
  };
  const wal = runs.filter((m) => m.walBytes !== undefined && m.requests > 0);
  const walPerRequest =
    wal.length === 0 ? "–" : int(wal.reduce((sum, m) => sum + (m.walBytes ?? 0) / m.requests, 0) / wal.length);
  return `${f(processRole)} | ${f("postgres")} | ${f("rabbitmq")} | ${f("loadgen")} | ${f("machine")} | ${walPerRequest}`;
}

export const COST_HEADER = [
  "| request | process | its process ms | PostgreSQL ms | RabbitMQ ms | load generator ms | machine ms | WAL bytes |",
  "|---|---|--:|--:|--:|--:|--:|--:|",
];
