import type { Bench } from "../bench.js";
import { measureProviderCeiling } from "../delivery/ceiling.js";
import { clusterScenarios } from "../delivery/cluster.js";
import { type DeliveryResult, measureDelivery } from "../delivery/measure.js";
import { deliveryReport, SINGLE_BROKER_ONE_DISPATCHER } from "../report/delivery.js";
import { startDispatchers } from "../services.js";
import type { Phase } from "./phase.js";

interface Scenario {
  readonly name: string;
  readonly dispatchers: number;
  readonly dummy: boolean;
  /** DISPATCHER_PREFETCH; the dispatcher's default when absent. */
  readonly prefetch?: number;
}

/** Each one a delivery run of `--events` OTPs, in this order; the report names them as here. */
const SCENARIOS: readonly Scenario[] = [
  { name: "DUMMY=true, 1 dispatcher", dispatchers: 1, dummy: true },
  { name: SINGLE_BROKER_ONE_DISPATCHER, dispatchers: 1, dummy: false },
  { name: "queue mode, 2 dispatchers", dispatchers: 2, dummy: false },
  // The same single dispatcher with twice the default prefetch (128): this row against "queue
  // mode, 1 dispatcher" shows what more deliveries in flight per dispatcher buy.
  { name: "queue mode, 1 dispatcher, DISPATCHER_PREFETCH=256", dispatchers: 1, dummy: false, prefetch: 256 },
];

/**
 * Delivery throughput API → RabbitMQ → dispatcher(s) → provider for each scenario, beside the
 * provider's own ceiling (docs/performance.md).
 */
export const delivery: Phase = {
  name: "delivery",
  group: "delivery",
  async run(bench) {
    const { options, log } = bench;
    // Events of the HTTP runs are still queued (no dispatcher ran): not part of what is measured.
    const ch = await bench.amqp.createChannel();
    await ch.purgeQueue(bench.topology.workQueue("sms"));
    await ch.close();
    log("provider ceiling: POST /task straight from the load generator");
    const ceiling = await measureProviderCeiling(bench.services.providerUrl, {
      seconds: options.seconds,
      warmupSeconds: options.warmup,
      roles: bench.roles,
    });
    const deliveries: DeliveryResult[] = [];
    for (const [i, scenario] of SCENARIOS.entries()) {
      log(`delivery: ${scenario.name}, ${options.events} events`);
      deliveries.push(await runScenario(bench, scenario, i));
    }
    deliveries.push(...(await clusterScenarios(bench, SCENARIOS.length)));
    return deliveryReport(ceiling, deliveries, bench.machine.cores);
  },
};

function runScenario(bench: Bench, scenario: Scenario, index: number): Promise<DeliveryResult> {
  const env = {
    DISPATCHER_PORT: "0",
    DUMMY: String(scenario.dummy),
    ...(scenario.prefetch === undefined ? {} : { DISPATCHER_PREFETCH: String(scenario.prefetch) }),
  };
  return measureDelivery({
    name: scenario.name,
    events: bench.options.events,
    // Each scenario's OTPs expire in a window of their own (see DeliveryRun).
    lifetimeSeconds: 7200 + 600 * index,
    apiUrl: bench.services.apiUrl,
    providerUrl: bench.services.providerUrl,
    pool: bench.pool,
    roles: bench.roles,
    dummy: scenario.dummy,
    startDispatchers: () =>
      startDispatchers(
        bench.resources,
        bench.services,
        bench.options,
        `dispatcher-${index}`,
        scenario.dispatchers,
        env,
      ),
    log: bench.log,
  });
}
