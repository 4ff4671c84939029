import {
  ConfirmPublisher,
  declareTopologyOnConnect,
  type Log,
  ManagedConnection,
  type Topology,
  topology,
} from "@otp/broker";
import type { Config } from "@otp/contracts";

export interface Broker {
  readonly connection: ManagedConnection;
  readonly publisher: ConfirmPublisher;
  readonly topology: Topology;
}

export interface BrokerOptions {
  readonly confirmTimeoutMs?: number;
  readonly minReconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** How long a close waits for RabbitMQ's close-ok before dropping the socket (the API's stop budget). */
  readonly closeTimeoutMs?: number;
}

/**
 * The API's RabbitMQ connection: it declares the whole topology on every (re)connect, so that
 * events published before any dispatcher has started land in their durable queues, then opens the
 * confirm channel. Connecting happens in the background; the API serves (and keeps OTPs in the
 * outbox) while RabbitMQ is away.
 */
export async function connectBroker(amqp: Config["amqp"], log: Log, options: BrokerOptions = {}): Promise<Broker> {
  const t = topology(amqp.prefix);
  const connection = new ManagedConnection({
    url: amqp.url,
    name: "otp-api",
    log,
    minReconnectDelayMs: options.minReconnectDelayMs,
    maxReconnectDelayMs: options.maxReconnectDelayMs,
    closeTimeoutMs: options.closeTimeoutMs,
  });
  await connection.addSetup(declareTopologyOnConnect(t));
  const publisher = await ConfirmPublisher.attach(connection, { log, confirmTimeoutMs: options.confirmTimeoutMs });
  connection.start();
  return { connection, publisher, topology: t };
}
