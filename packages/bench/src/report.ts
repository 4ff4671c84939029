import { formatCores } from "./cpu.js";
import type { DeliveryResult } from "./delivery.js";
import type { Measurement } from "./load.js";
import type { Machine } from "./machine.js";
import type { Protocol } from "./pgbench.js";

export interface HttpRow {
  readonly endpoint: string;
  readonly connections: number;
  readonly api: Measurement;
  readonly pgbench: Measurement;
  readonly bare: Measurement;
  /** POST /sms: one outbox delete per this many inserts in the pgbench script. */
  readonly batch?: number;
}

export interface Report {
  readonly date: Date;
  readonly machine: Machine;
  readonly protocol: Protocol;
  readonly seconds: number;
  readonly warmup: number;
  readonly http: readonly HttpRow[];
  readonly ceiling: Measurement | undefined;
  readonly deliveries: readonly DeliveryResult[];
  readonly elapsedSeconds: number;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isNaN(n) ? "–" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
const lat = (m: Measurement) => `${ms(m.p50)} / ${ms(m.p99)}`;

/** The issue's targets, checked against this run. */
function targets(r: Report): string[] {
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? "**met**" : "**not met**");
  for (const [endpoint, goal] of [
    ["POST /sms", 0.7],
    ["GET /sms/check", 0.6],
  ] as const) {
    const rows = r.http.filter((h) => h.endpoint === endpoint);
    if (rows.length === 0) continue;
    const ratios = rows.map((h) => `${pct(h.api.rps, h.pgbench.rps)} at ${h.connections}`);
    const best = Math.max(...rows.map((h) => h.api.rps / h.pgbench.rps));
    const atOrAbove = rows.filter((h) => h.api.rps / h.pgbench.rps >= goal).map((h) => h.connections);
    lines.push(
      `- \`${endpoint}\` ≥ ${goal * 100}% of pgbench with the same SQL: ${ratios.join(", ")} connections — ` +
        `${verdict(atOrAbove.length === rows.length)}${atOrAbove.length > 0 && atOrAbove.length < rows.length ? ` at ${atOrAbove.join(", ")} connections only` : ""} (best ${Math.round(best * 100)}%)`,
    );
  }
  for (const h of r.http.filter((x) => x.connections === 16)) {
    lines.push(`- p99 < 50 ms at 16 connections, \`${h.endpoint}\`: ${ms(h.api.p99)} ms — ${verdict(h.api.p99 < 50)}`);
  }
  const one = r.deliveries.find((d) => d.name === "queue mode, 1 dispatcher");
  if (one) {
    lines.push(
      `- delivery ≥ 2,000 events/s with one dispatcher (queue mode): ${int(one.eventsPerSecond)}/s — ${verdict(one.eventsPerSecond >= 2000)}`,
    );
  }
  return lines;
}

export function renderReport(r: Report): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`### Benchmark results (${r.date.toISOString().slice(0, 16).replace("T", " ")} UTC)`);
  out.push("");
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.kernel}; Node.js ${m.node}, PostgreSQL ${m.postgres} ` +
      `(pgbench ${m.pgbench}), RabbitMQ ${m.rabbitmq}, autocannon ${m.autocannon}. PostgreSQL, RabbitMQ, the ` +
      `services and the load generator all share these cores. Each figure: ${r.warmup} s warm-up, then ${r.seconds} s measured; ` +
      `\`pnpm bench\` took ${Math.round(r.elapsedSeconds)} s.`,
  );
  if (r.http.length > 0) {
    out.push("");
    out.push(
      "| endpoint | conns | API req/s | API p50 / p99 ms | pgbench, same SQL: tx/s | p50 / p99 ms | API ÷ pgbench | bare Hono req/s | p50 / p99 ms | API ÷ bare | errors | failed checks |",
    );
    out.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const h of r.http) {
      out.push(
        `| \`${h.endpoint}\` | ${h.connections} | ${int(h.api.rps)} | ${lat(h.api)} | ${int(h.pgbench.rps)} | ${lat(h.pgbench)} | ` +
          `${pct(h.api.rps, h.pgbench.rps)} | ${int(h.bare.rps)} | ${lat(h.bare)} | ${pct(h.api.rps, h.bare.rps)} | ` +
          `${h.api.errors + h.pgbench.errors + h.bare.errors} | ${h.endpoint.includes("check") ? h.api.mismatches : "–"} |`,
      );
    }
    out.push("");
    out.push(
      `pgbench runs the statements the API sends, taken from its source, with \`-M ${r.protocol}\` ` +
        `(${r.protocol === "prepared" ? "named prepared statements, as the API uses for these statements" : "Parse/Bind/Execute per statement, no named prepared statements"}) ` +
        `and as many connections as the load generator has. \`POST /sms\`: the guarded insert of the OTP and its outbox row, plus one ` +
        `batched outbox delete per ${[...new Set(r.http.filter((h) => h.batch).map((h) => h.batch))].join("/")} inserts ` +
        `(the API's batch at that rate: one delete per 20 ms). \`GET /sms/check\`: the check statement (locks the ` +
        `candidates, compares the blinded digests, counts a failure or consumes) with the right code for a random ` +
        `phone created by the API load. The bare column is the same Hono + @hono/node-server answering ` +
        `\`{"status":true}\` to the same requests. "errors": non-2xx answers, socket errors and timeouts of all three; ` +
        `"failed checks": API checks answered \`{"status":false}\` (a few at the end of a run, for phones whose create was cut off).`,
    );
    out.push("");
    out.push(
      "CPU used during each measured run, in cores (2.00 = the whole machine; `other`: processes outside the benchmark), " +
        "and CPU milliseconds per request: the API process's own, and the whole machine's per answered request or transaction:",
    );
    out.push("");
    out.push("| endpoint | conns | API run | API ms/req, machine ms/req | pgbench run | machine ms/tx | bare run |");
    out.push("|---|--:|---|--:|---|--:|---|");
    const per = (cores: number | undefined, rate: number) => ((1000 * (cores ?? 0)) / rate).toFixed(2);
    for (const h of r.http) {
      out.push(
        `| \`${h.endpoint}\` | ${h.connections} | ${formatCores(h.api.cores)} | ${per(h.api.cores.api, h.api.rps)}, ${per(h.api.cores.machine, h.api.rps)} | ` +
          `${formatCores(h.pgbench.cores)} | ${per(h.pgbench.cores.machine, h.pgbench.rps)} | ${formatCores(h.bare.cores)} |`,
      );
    }
  }
  if (r.deliveries.length > 0 || r.ceiling) {
    out.push("");
    out.push(
      "| delivery, API → RabbitMQ → dispatcher → provider | events | events/s | ÷ provider ceiling | CPU (cores) |",
    );
    out.push("|---|--:|--:|--:|---|");
    if (r.ceiling) {
      out.push(
        `| provider ceiling: the Queue task POSTed straight to the recording provider, 32 connections (p50 / p99 ${lat(r.ceiling)} ms, errors ${r.ceiling.errors}) | ${int(r.ceiling.requests)} | ${int(r.ceiling.rps)} | 100% | ${formatCores(r.ceiling.cores)} |`,
      );
    }
    for (const d of r.deliveries) {
      out.push(
        `| ${d.name}${d.duplicates > 0 ? ` (${d.duplicates} duplicates)` : ""} | ${int(d.events)} | ${int(d.eventsPerSecond)} | ${r.ceiling ? pct(d.eventsPerSecond, r.ceiling.rps) : "–"} | ${formatCores(d.cores)} |`,
      );
    }
    out.push("");
    out.push(
      "Delivery: the OTPs are created through the API with no dispatcher running (events confirmed in RabbitMQ), then the " +
        "dispatchers start; events/s is measured between the first and the last Queue task the provider received " +
        "(DUMMY: the first and last `delivered_at`), so process start-up is left out, and the run ends only when every " +
        "status row says `delivered`. Default settings (`DISPATCHER_PREFETCH` 128, `LOG_LEVEL` info) unless the row says otherwise.",
    );
  }
  out.push("");
  out.push("Targets (issue 6):");
  out.push("");
  out.push(...targets(r));
  return `${out.join("\n")}\n`;
}
