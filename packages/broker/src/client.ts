import { ManagedConnection } from "./connection.js";
import type { Log } from "./log.js";
import { ConfirmPublisher } from "./publisher.js";
import { declareTopologyOnConnect, type Topology, topology } from "./topology.js";

export interface BrokerClientOptions {
  /** One broker's URL, or a cluster's nodes in the order to try them (ManagedConnectionOptions.url). */
  readonly url: string | readonly string[];
  /** `RABBITMQ_PREFIX`: the names of the exchange and queues. */
  readonly prefix: string;
  /** Shown in RabbitMQ's connection list. */
  readonly name: string;
  readonly log: Log;
  readonly confirmTimeoutMs?: number;
  readonly minReconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** How long a close waits for RabbitMQ's close-ok before dropping the socket. */
  readonly closeTimeoutMs?: number;
}

/** A connection that declares the topology on every (re)connect, and a confirmed publisher on it. */
export interface BrokerClient {
  readonly connection: ManagedConnection;
  readonly publisher: ConfirmPublisher;
  readonly topology: Topology;
}

/**
 * The one way a process of this service talks to RabbitMQ: a self-reconnecting connection whose
 * first setup step declares the whole topology (so that whichever process connects first makes
 * every queue exist and a publish routes even before any dispatcher runs), then a confirm channel.
 * Nothing connects until the caller calls `connection.start()`: a dispatcher adds its consumers'
 * setup steps first, so they run after the topology on every reconnection.
 */
export async function createBrokerClient(options: BrokerClientOptions): Promise<BrokerClient> {
  const t = topology(options.prefix);
  const connection = new ManagedConnection({
    url: options.url,
    name: options.name,
    log: options.log,
    minReconnectDelayMs: options.minReconnectDelayMs,
    maxReconnectDelayMs: options.maxReconnectDelayMs,
    closeTimeoutMs: options.closeTimeoutMs,
  });
  await connection.addSetup(declareTopologyOnConnect(t));
  const publisher = await ConfirmPublisher.attach(connection, {
    log: options.log,
    confirmTimeoutMs: options.confirmTimeoutMs,
  });
  return { connection, publisher, topology: t };
}
