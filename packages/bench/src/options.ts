import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Protocol } from "./pgbench/runner.js";
import { ROOT } from "./processes.js";

/** The flags of `pnpm bench` (docs/performance.md), parsed. */
export interface BenchOptions {
  /** Measured seconds of each figure. */
  readonly seconds: number;
  /** Seconds of load before each figure, discarded. */
  readonly warmup: number;
  /** The HTTP phase measures each endpoint at each of these concurrencies. */
  readonly connections: readonly number[];
  /** OTPs per delivery scenario. */
  readonly events: number;
  /** `--only <group>`: only the phases of that group (see phases/index.ts); every phase when absent. */
  readonly only: string | undefined;
  /** How the API sends its statements; the pgbench baseline uses the same protocol (like with like). */
  readonly protocol: Protocol;
  /** Flags for node itself in the API and dispatcher processes (`--cpu-prof`). */
  readonly apiNodeArgs: readonly string[];
  readonly dispatcherNodeArgs: readonly string[];
  /** Where the report is written (it is printed too). */
  readonly out: string;
  /** Rounds of the alternating comparisons (the peer's, the old rows'): A, B, A, B … */
  readonly rounds: number;
  /** Old rows seeded for the `rows` phase; 0 skips the phase. */
  readonly oldRows: number;
  /** Nodes of the RabbitMQ cluster the delivery phase also measures; 0 skips those scenarios. */
  readonly clusterNodes: number;
  /** The cluster's first AMQP port (scripts/rabbitmq-cluster.sh; node i on port + i - 1). */
  readonly clusterPort: number;
}

/**
 * `argv` without node and the script; `groups`: the phase groups `--only` may name. An unknown
 * group is refused before anything starts rather than running a different benchmark.
 */
export function parseOptions(argv: readonly string[], groups: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    // pnpm passes the `--` that separates its own flags from the script's.
    args: argv.filter((a, i) => !(i === 0 && a === "--")),
    options: {
      seconds: { type: "string", default: "4" },
      warmup: { type: "string", default: "1" },
      connections: { type: "string", default: "1,16,64" },
      events: { type: "string", default: "10000" },
      only: { type: "string" },
      protocol: { type: "string" },
      "api-node-arg": { type: "string", multiple: true, default: [] },
      "dispatcher-node-arg": { type: "string", multiple: true, default: [] },
      out: { type: "string", default: join(ROOT, "packages/bench/last-results.md") },
      rounds: { type: "string", default: "3" },
      "old-rows": { type: "string", default: "5000000" },
      cluster: { type: "string", default: "3" },
      "cluster-port": { type: "string", default: "5761" },
    },
  });
  if (values.only !== undefined && !groups.includes(values.only)) {
    throw new Error(`--only ${values.only}: no such phase group (one of: ${groups.join(", ")})`);
  }
  return {
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    connections: (values.connections ?? "").split(",").map(Number),
    events: Number(values.events),
    only: values.only,
    protocol: (values.protocol as Protocol | undefined) ?? "prepared",
    apiNodeArgs: values["api-node-arg"] ?? [],
    dispatcherNodeArgs: values["dispatcher-node-arg"] ?? [],
    out: values.out ?? "",
    rounds: Number(values.rounds),
    oldRows: Number(values["old-rows"]),
    clusterNodes: Number(values.cluster),
    clusterPort: Number(values["cluster-port"]),
  };
}
