import { formatCores } from "../cpu.js";
import type { Measurement } from "../load.js";
import type { Protocol } from "../pgbench/runner.js";
import { int, lat, pct } from "./format.js";
import type { ReportPart } from "./part.js";
import { latencyTarget, ratioTarget, type Target } from "./targets.js";

/** One endpoint at one concurrency: the API and its two baselines. */
export interface HttpRow {
  readonly endpoint: string;
  readonly connections: number;
  readonly api: Measurement;
  readonly pgbench: Measurement;
  readonly bare: Measurement;
  /** POST /sms: one outbox delete per this many inserts in the pgbench script. */
  readonly batch?: number;
}

/** The HTTP phase's part: throughput and latency beside the baselines, what each baseline runs, CPU. */
export function httpReport(rows: readonly HttpRow[], protocol: Protocol): ReportPart {
  if (rows.length === 0) return { lines: [], targets: [] };
  return {
    lines: [...throughputTable(rows), "", baselinesNote(rows, protocol), "", ...cpuTable(rows)],
    targets: httpTargets(rows),
  };
}

function throughputTable(rows: readonly HttpRow[]): string[] {
  return [
    "| endpoint | conns | API req/s | API p50 / p99 ms | pgbench, same SQL: tx/s | p50 / p99 ms | API ÷ pgbench | bare Hono req/s | p50 / p99 ms | API ÷ bare | errors | failed checks |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map(
      (h) =>
        `| \`${h.endpoint}\` | ${h.connections} | ${int(h.api.rps)} | ${lat(h.api)} | ${int(h.pgbench.rps)} | ${lat(h.pgbench)} | ` +
        `${pct(h.api.rps, h.pgbench.rps)} | ${int(h.bare.rps)} | ${lat(h.bare)} | ${pct(h.api.rps, h.bare.rps)} | ` +
        `${h.api.errors + h.pgbench.errors + h.bare.errors} | ${h.endpoint.includes("check") ? h.api.mismatches : "–"} |`,
    ),
  ];
}

function baselinesNote(rows: readonly HttpRow[], protocol: Protocol): string {
  return (
    `pgbench runs the statements the API sends, taken from its source, with \`-M ${protocol}\` ` +
    `(${protocol === "prepared" ? "named prepared statements, as the API uses for these statements" : "Parse/Bind/Execute per statement, no named prepared statements"}) ` +
    `and as many connections as the load generator has. \`POST /sms\`: the guarded insert of the OTP and its outbox row, plus one ` +
    `batched outbox delete per ${[...new Set(rows.filter((h) => h.batch).map((h) => h.batch))].join("/")} inserts ` +
    `(the API's batch at that rate: one delete per 20 ms). \`GET /sms/check\`: the check statement (locks the ` +
    `candidates, compares the blinded digests, counts a failure or consumes) with the right code for a random ` +
    `phone created by the API load. The bare column is the same Hono + @hono/node-server answering ` +
    `\`{"status":true}\` to the same requests. "errors": non-2xx answers, socket errors and timeouts of all three; ` +
    `"failed checks": API checks answered \`{"status":false}\` (a few at the end of a run, for phones whose create was cut off).`
  );
}

function cpuTable(rows: readonly HttpRow[]): string[] {
  const per = (cores: number | undefined, rate: number) => ((1000 * (cores ?? 0)) / rate).toFixed(2);
  return [
    "CPU used during each measured run, in cores (2.00 = the whole machine; `other`: processes outside the benchmark), " +
      "and CPU milliseconds per request: the API process's own, and the whole machine's per answered request or transaction:",
    "",
    "| endpoint | conns | API run | API ms/req, machine ms/req | pgbench run | machine ms/tx | bare run |",
    "|---|--:|---|--:|---|--:|---|",
    ...rows.map(
      (h) =>
        `| \`${h.endpoint}\` | ${h.connections} | ${formatCores(h.api.cores)} | ${per(h.api.cores.api, h.api.rps)}, ${per(h.api.cores.machine, h.api.rps)} | ` +
        `${formatCores(h.pgbench.cores)} | ${per(h.pgbench.cores.machine, h.pgbench.rps)} | ${formatCores(h.bare.cores)} |`,
    ),
  ];
}

/** The HTTP targets, checked against this run (docs/performance.md, "Targets"). */
function httpTargets(rows: readonly HttpRow[]): Target[] {
  const targets: Target[] = [];
  for (const [endpoint, goal] of [
    ["POST /sms", 0.7],
    ["GET /sms/check", 0.6],
  ] as const) {
    for (const h of rows.filter((x) => x.endpoint === endpoint)) {
      targets.push(
        ratioTarget(
          `\`${endpoint}\` ≥ ${goal}× pgbench with the same SQL, ${h.connections} connections`,
          h.api.rps,
          h.pgbench.rps,
          goal,
          { value: "req/s", baseline: "tx/s" },
        ),
      );
    }
  }
  for (const h of rows.filter((x) => x.connections === 16)) {
    targets.push(latencyTarget(`\`${h.endpoint}\` p99 < 50 ms at 16 connections`, h.api.p99, 50));
  }
  return targets;
}
