import { formatCores } from "../cpu.js";
import type { DeliveryResult } from "../delivery/measure.js";
import type { Measurement } from "../load.js";
import { int, lat, pct, verdict } from "./format.js";
import type { ReportPart } from "./part.js";

/** The delivery phase's part: each scenario's rate beside the provider's ceiling, how it is measured. */
export function deliveryReport(ceiling: Measurement | undefined, deliveries: readonly DeliveryResult[]): ReportPart {
  if (deliveries.length === 0 && !ceiling) return { lines: [], targets: [] };
  const lines = [
    "| delivery, API → RabbitMQ → dispatcher → provider | events | events/s | ÷ provider ceiling | CPU (cores) |",
    "|---|--:|--:|--:|---|",
  ];
  if (ceiling) {
    lines.push(
      `| provider ceiling: the Queue task POSTed straight to the recording provider, 32 connections (p50 / p99 ${lat(ceiling)} ms, errors ${ceiling.errors}) | ${int(ceiling.requests)} | ${int(ceiling.rps)} | 100% | ${formatCores(ceiling.cores)} |`,
    );
  }
  for (const d of deliveries) {
    lines.push(
      `| ${d.name}${d.duplicates > 0 ? ` (${d.duplicates} duplicates)` : ""} | ${int(d.events)} | ${int(d.eventsPerSecond)} | ${ceiling ? pct(d.eventsPerSecond, ceiling.rps) : "–"} | ${formatCores(d.cores)} |`,
    );
  }
  lines.push(
    "",
    "Delivery: the OTPs are created through the API with no dispatcher running (events confirmed in RabbitMQ), then the " +
      "dispatchers start; events/s is measured between the first and the last Queue task the provider received " +
      "(DUMMY: the first and last `delivered_at`), so process start-up is left out, and the run ends only when every " +
      "status row says `delivered`. Default settings (`DISPATCHER_PREFETCH` 128, `LOG_LEVEL` info) unless the row says otherwise.",
  );
  return { lines, targets: deliveryTargets(deliveries) };
}

/** The delivery target of issue 6, checked against this run (docs/performance.md). */
function deliveryTargets(deliveries: readonly DeliveryResult[]): string[] {
  const one = deliveries.find((d) => d.name === "queue mode, 1 dispatcher");
  if (!one) return [];
  return [
    `- delivery ≥ 2,000 events/s with one dispatcher (queue mode): ${int(one.eventsPerSecond)}/s — ${verdict(one.eventsPerSecond >= 2000)}`,
  ];
}
