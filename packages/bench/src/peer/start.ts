import type { Bench } from "../bench.js";
import { freePort } from "../processes.js";

/** The peer, started; its CPU is accounted to `peer` while it runs. */
export interface RunningPeer {
  readonly url: string;
  readonly stop: () => Promise<void>;
}

/**
 * The peer baseline (peer/main.ts) as a process of its own on the scratch database, with the API's
 * pool size (`PG_POOL_MAX`) and a queue of its own under the run's prefix (deleted at the end).
 */
export async function startPeer(bench: Bench): Promise<RunningPeer> {
  const { scratch } = bench;
  const port = await freePort();
  const queue = `${scratch.prefix}.peer.sms`;
  const pg = scratch.pg;
  const databaseUrl = `postgres://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${pg.realHost}:${pg.port}/${pg.database}`;
  const peer = bench.resources.spawn("peer", "packages/bench/src/peer/main.ts", {
    args: [
      ...["--port", String(port), "--database-url", databaseUrl, "--amqp-url", scratch.amqpUrl],
      ...["--queue", queue, "--pool-max", String(pg.poolMax)],
    ],
  });
  bench.resources.addCleanupFirst(async () => {
    const ch = await bench.amqp.createChannel();
    await ch.deleteQueue(queue);
    await ch.close();
  });
  const url = `http://127.0.0.1:${port}`;
  await peer.waitForHttp(`${url}/health`, { timeoutMs: 60_000 });
  bench.roles.peer = [peer.pid];
  return {
    url,
    stop: async () => {
      await peer.stop();
      delete bench.roles.peer;
    },
  };
}
