import { deleteTopology, type Topology, topology } from "@otp/broker";
import amqp, { type ChannelModel } from "amqplib";
import pg from "pg";
import type { Roles } from "./cpu.js";
import type { Log } from "./log.js";
import { describeMachine, type Machine } from "./machine.js";
import type { BenchOptions } from "./options.js";
import type { Resources } from "./resources.js";
import { clientOf, dropScratchDatabase, type Scratch } from "./scratch.js";
import { type Services, startServices } from "./services.js";
import { serverVersions } from "./versions.js";

/** What every phase is given: the options, the run's names and resources, the running services. */
export interface Bench {
  readonly options: BenchOptions;
  readonly log: Log;
  readonly scratch: Scratch;
  /** Start processes through it, so that they are stopped however the run ends. */
  readonly resources: Resources;
  readonly amqp: ChannelModel;
  /** The run's RabbitMQ names (`scratch.prefix`). */
  readonly topology: Topology;
  readonly services: Services;
  /** Two connections to the scratch database, for the phases' own queries. */
  readonly pool: pg.Pool;
  /** Process groups the CPU is accounted to; a phase adds the processes it starts while they run. */
  readonly roles: Roles;
  readonly machine: Machine;
}

/**
 * Connects to RabbitMQ, notes the versions, starts the provider and the API, and registers the
 * cleanups: the pool closed, then the broker names deleted, then the scratch database dropped.
 */
export async function openBench(
  options: BenchOptions,
  scratch: Scratch,
  resources: Resources,
  log: Log,
): Promise<Bench> {
  const amqpConnection = await amqp.connect(scratch.amqpUrl);
  const machine = describeMachine(await serverVersions(scratch.pg, amqpConnection));
  const t = topology(scratch.prefix);
  resources.addCleanup(async () => {
    const ch = await amqpConnection.createChannel();
    await deleteTopology(ch, t);
    await amqpConnection.close();
  });
  resources.addCleanup(() => dropScratchDatabase(scratch.pg));

  const services = await startServices(scratch, resources, options, log);
  const pool = new pg.Pool({ ...clientOf(scratch.pg), max: 2 });
  resources.addCleanupFirst(() => pool.end());
  const roles: Roles = { api: [services.api.pid], provider: [services.provider.pid], loadgen: [process.pid] };
  return { options, log, scratch, resources, amqp: amqpConnection, topology: t, services, pool, roles, machine };
}
