import { formatCores } from "../cpu.js";
import type { DeliveryResult } from "../delivery/measure.js";
import type { Measurement } from "../load.js";
import { int, lat, pct } from "./format.js";
import type { ReportPart } from "./part.js";
import { rateTarget, type Target } from "./targets.js";

/** The scenario the delivery target is read from (phases/delivery.ts names it so). */
export const SINGLE_BROKER_ONE_DISPATCHER = "queue mode, 1 dispatcher";

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
  return { lines, targets: deliveryTargets(ceiling, deliveries) };
}

/** The delivery target of issues 6 and 14, checked against this run (docs/performance.md, "Targets"). */
function deliveryTargets(ceiling: Measurement | undefined, deliveries: readonly DeliveryResult[]): Target[] {
  const one = deliveries.find((d) => d.name === SINGLE_BROKER_ONE_DISPATCHER);
  if (!one) return [];
  const beside = ceiling ? `provider ceiling ${int(ceiling.rps)}/s` : "–";
  return [
    rateTarget(
      "≥ 2,000 deliveries/s with one dispatcher, single broker (queue mode)",
      one.eventsPerSecond,
      2000,
      beside,
    ),
  ];
}
