import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { RabbitMqCluster } from "@otp/testkit";
import type { Bench } from "../bench.js";
import { startExtraApi } from "../extra-api.js";
import { ROOT } from "../processes.js";
import { startDispatchers } from "../services.js";
import { type DeliveryResult, measureDelivery } from "./measure.js";

const exec = promisify(execFile);

/** "3-node cluster, 2 dispatchers": the report pairs it with the single broker's "queue mode, 2 dispatchers". */
export const clusterScenarioName = (nodes: number, dispatchers: number) =>
  `${nodes}-node cluster, ${dispatchers} dispatcher${dispatchers === 1 ? "" : "s"}`;

/**
 * Delivery with one and two dispatchers against a throwaway RabbitMQ cluster
 * (scripts/rabbitmq-cluster.sh: extra `rabbitmq-server` nodes as the rabbitmq user, on ports of
 * their own from `--cluster-port`, never the machine's own node), through an API of its own whose
 * `RABBITMQ_URL` lists every node; each node's CPU is accounted to `rmq-c<i>`. `--cluster 0`, or a
 * machine that cannot run the nodes, skips it (docs/performance.md, "Delivery on a cluster").
 */
export async function clusterScenarios(bench: Bench, firstIndex: number): Promise<DeliveryResult[]> {
  const nodes = bench.options.clusterNodes;
  const unavailable = nodes > 0 ? RabbitMqCluster.unavailableBecause() : "--cluster 0";
  if (unavailable) {
    bench.log(`delivery on a cluster: skipped (${unavailable})`);
    return [];
  }
  const dir = join(tmpdir(), `otp-bench-rmq-${process.pid}`);
  const cluster = new RabbitMqCluster({ size: nodes, port: bench.options.clusterPort, dir });
  bench.resources.addCleanup(() => cluster.stop());
  const started = performance.now();
  await cluster.start();
  bench.log(
    `cluster of ${nodes} up on ports ${cluster.port}… in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  const nodeRoles = await nodePids(dir, nodes, cluster.port);
  bench.log(`cluster nodes' pids (CPU as rmq-c<i>): ${JSON.stringify(nodeRoles)}`);
  const api = await startExtraApi(bench, { name: "cluster", amqpUrl: cluster.urls.join(","), deleteTopology: false });
  const results: DeliveryResult[] = [];
  try {
    for (const [k, dispatchers] of [1, 2].entries()) {
      const name = clusterScenarioName(nodes, dispatchers);
      bench.log(`delivery: ${name}, ${bench.options.events} events`);
      results.push(
        await measureDelivery({
          name,
          events: bench.options.events,
          lifetimeSeconds: 7200 + 600 * (firstIndex + k),
          apiUrl: api.url,
          providerUrl: bench.services.providerUrl,
          pool: api.pool,
          roles: { ...bench.roles, api: [api.process.pid], ...nodeRoles },
          dummy: false,
          startDispatchers: () =>
            startDispatchers(bench.resources, bench.services, bench.options, `dispatcher-c${k}`, dispatchers, {
              ...api.env,
              DISPATCHER_PORT: "0",
              DUMMY: "false",
            }),
          log: bench.log,
        }),
      );
    }
  } finally {
    await api.process.stop();
    await cluster.stop();
  }
  return results;
}

/** Each node's pid, from the script's `status` (`otp-c1@localhost  amqp …  dist …  pid 123  running`). */
async function nodePids(dir: string, size: number, port: number): Promise<Record<string, number[]>> {
  const { stdout } = await exec("bash", [join(ROOT, "scripts/rabbitmq-cluster.sh"), "status"], {
    env: { ...process.env, RMQ_CLUSTER_DIR: dir, RMQ_CLUSTER_SIZE: String(size), RMQ_CLUSTER_PORT: String(port) },
  });
  const roles: Record<string, number[]> = {};
  for (const match of stdout.matchAll(/otp-c(\d+)@\S+.*?pid (\d+)/g)) roles[`rmq-c${match[1]}`] = [Number(match[2])];
  return roles;
}
