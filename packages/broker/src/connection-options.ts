import type { ChannelModel } from "amqplib";
import type { Log } from "./log.js";

export interface ManagedConnectionOptions {
  /** One broker's URL, or a cluster's nodes (RABBITMQ_URL's list), tried in turn: AddressRotation. */
  readonly url: string | readonly string[];
  /** Shown in the management UI's connection list. */
  readonly name: string;
  readonly log: Log;
  readonly minReconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /**
   * How long a connection must stay up before its loss starts the backoff again from
   * minReconnectDelayMs (default 10 s). A node that accepts connections and drops them at once (a
   * flapping node) would otherwise have every process reconnect to it every few hundred ms for ever.
   */
  readonly stableAfterMs?: number;
  /** Short heartbeats notice a dead broker in seconds instead of the TCP timeout's minutes. */
  readonly heartbeatSeconds?: number;
  /**
   * How long the TCP connect plus AMQP handshake may take. Heartbeats only start once the handshake
   * is done, so without this a broker that accepts the socket but never answers stalls the loop.
   */
  readonly connectTimeoutMs?: number;
  /** How long close() waits for the broker's close-ok before dropping the socket. */
  readonly closeTimeoutMs?: number;
}

/** Runs on every (re)connection, before it counts as connected: declare topology, open channels. */
export type SetupHook = (connection: ChannelModel) => Promise<void>;
