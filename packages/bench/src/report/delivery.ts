import { formatCores } from "../cpu.js";
import type { DeliveryResult } from "../delivery/measure.js";
import type { Measurement } from "../load.js";
import { boundBy } from "./bound.js";
import { int, lat, pct } from "./format.js";
import type { ReportPart } from "./part.js";
import { rateTarget, type Target, times } from "./targets.js";

/** The scenario the delivery target is read from (phases/delivery.ts names it so). */
export const SINGLE_BROKER_ONE_DISPATCHER = "queue mode, 1 dispatcher";

/** The single broker's scenario a cluster scenario is read beside: the same dispatchers. */
export const singleBrokerTwin = (name: string) => name.replace(/^\d+-node cluster, /, "queue mode, ");

/**
 * The delivery phase's part: each scenario's rate beside the provider's ceiling (and a cluster's
 * beside the single broker with as many dispatchers), what bounds it, the CPU of each process.
 */
export function deliveryReport(
  ceiling: Measurement | undefined,
  deliveries: readonly DeliveryResult[],
  machineCores: number,
): ReportPart {
  if (deliveries.length === 0 && !ceiling) return { lines: [], targets: [] };
  const lines = [
    "| delivery, API → RabbitMQ → dispatcher → provider | events | events/s | ÷ provider ceiling | ÷ single broker, same dispatchers | bounded by | CPU (cores) |",
    "|---|--:|--:|--:|--:|---|---|",
  ];
  if (ceiling) {
    lines.push(
      `| provider ceiling: the Queue task POSTed straight to the recording provider, 32 connections (p50 / p99 ${lat(ceiling)} ms, errors ${ceiling.errors}) | ${int(ceiling.requests)} | ${int(ceiling.rps)} | 100% | – | ${boundBy(ceiling.cores, machineCores)} | ${formatCores(ceiling.cores)} |`,
    );
  }
  for (const d of deliveries) {
    const twin = singleBrokerTwin(d.name) !== d.name && deliveries.find((x) => x.name === singleBrokerTwin(d.name));
    lines.push(
      `| ${d.name}${d.duplicates > 0 ? ` (${d.duplicates} duplicates)` : ""} | ${int(d.events)} | ${int(d.eventsPerSecond)} | ` +
        `${ceiling ? pct(d.eventsPerSecond, ceiling.rps) : "–"} | ${twin ? times(d.eventsPerSecond / twin.eventsPerSecond) : "–"} | ` +
        `${boundBy(d.cores, machineCores)} | ${formatCores(d.cores)} |`,
    );
  }
  lines.push(
    "",
    "Delivery: the OTPs are created through the API with no dispatcher running (events confirmed in RabbitMQ), then the " +
      "dispatchers start; events/s is measured between the first and the last Queue task the provider received " +
      "(DUMMY: the first and last `delivered_at`), so process start-up is left out, and the run ends only when every " +
      "status row says `delivered`. Default settings (`DISPATCHER_PREFETCH` 128, `LOG_LEVEL` info) unless the row says otherwise. " +
      "The cluster rows: a throwaway cluster of `rabbitmq-server` nodes on this machine (scripts/rabbitmq-cluster.sh), an API " +
      "of its own with every node in `RABBITMQ_URL`, quorum queues replicated on every node; `rmq-c<i>` is node i's CPU, " +
      "`rabbitmq` the machine's own broker. No target for them: two dispatchers already fill this machine.",
  );
  return { lines, targets: deliveryTargets(ceiling, deliveries) };
}

/** The delivery target, checked against this run (docs/performance.md, "Targets"). */
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
