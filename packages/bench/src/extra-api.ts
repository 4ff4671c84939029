import { deleteTopology, topology } from "@otp/broker";
import type { NodeProcess } from "@otp/testkit";
import amqp from "amqplib";
import pg from "pg";
import type { Bench } from "./bench.js";
import { freePort } from "./processes.js";
import { clientOf, dropScratchDatabase } from "./scratch.js";

/**
 * Another API process beside the run's, on a database and broker names of its own, so that two
 * setups can be measured in alternation within one run (an empty table against a full one; a
 * single broker against a cluster). It creates and migrates its database at start, as the API
 * always does; the database is dropped and the broker names deleted at the end of the run.
 */
export interface ExtraApi {
  readonly url: string;
  readonly process: NodeProcess;
  /** The variables it runs with on top of the run's (`Services.env`): for dispatchers beside it. */
  readonly env: Record<string, string>;
  /** Two connections to its database, for the phase's own queries. */
  readonly pool: pg.Pool;
}

export interface ExtraApiSpec {
  /** Names the process (`api-<name>`), the database (`<run's>_<name>`) and the prefix (`<run's>.<name>`). */
  readonly name: string;
  /** RABBITMQ_URL (one URL or a cluster's, comma-separated); the run's broker when absent. */
  readonly amqpUrl?: string;
  /** Whether to delete its broker names at the end (not for a cluster that is removed anyway). */
  readonly deleteTopology?: boolean;
}

export async function startExtraApi(bench: Bench, spec: ExtraApiSpec): Promise<ExtraApi> {
  const database = `${bench.scratch.pg.database}_${spec.name}`;
  const prefix = `${bench.scratch.prefix}.${spec.name}`;
  const pgConfig = { ...bench.scratch.pg, database };
  const env = {
    PG_DATABASE: database,
    RABBITMQ_PREFIX: prefix,
    ...(spec.amqpUrl === undefined ? {} : { RABBITMQ_URL: spec.amqpUrl }),
  };
  bench.resources.addCleanup(() => dropScratchDatabase(pgConfig));
  if (spec.deleteTopology !== false) {
    bench.resources.addCleanup(async () => {
      const connection = await amqp.connect(bench.scratch.amqpUrl);
      await deleteTopology(await connection.createChannel(), topology(prefix));
      await connection.close();
    });
  }
  const port = await freePort();
  const api = bench.resources.spawn(`api-${spec.name}`, "services/api/dist/main.js", {
    env: { ...bench.services.env, ...env, PORT: String(port) },
  });
  const url = `http://127.0.0.1:${port}`;
  await api.waitForHttp(`${url}/health`, { timeoutMs: 120_000 });
  const pool = new pg.Pool({ ...clientOf(pgConfig), max: 2 });
  bench.resources.addCleanupFirst(() => pool.end());
  bench.log(`API ${spec.name} on ${url}, database ${database}, prefix ${prefix}`);
  return { url, process: api, env, pool };
}
