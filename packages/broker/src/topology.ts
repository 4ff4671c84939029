import { DISPATCH_ROUTES, type DispatchRoute } from "@otp/contracts";
import type { Channel as AmqpChannel, ChannelModel, Options } from "amqplib";

/**
 * The broker topology, declared here and nowhere else. Whichever process connects first declares
 * it; declarations are idempotent, so every process does it on every (re)connect.
 *
 *   exchange  {prefix}.delivery (direct, durable) ── routing key = channel ──▶ {prefix}.delivery.{channel}
 *   {prefix}.delivery.{channel}.retry.{ms}ms   delay queues: a queue-level TTL, then dead-lettered
 *                                              back to the work queue of their channel
 *   {prefix}.delivery.dead                     events that failed for good, for inspection and replay
 *
 * `channel` is one of the four OTP channels or `webhook` (the lifecycle's webhooks, routed by the
 * outbox rows `otp_emit` writes): a work queue and delay queues of their own, the same dead-letter
 * queue, so that a receiver that is down fills only its own queues and never slows a code down.
 *
 * Every queue is a quorum queue: replicated and fsync'd before a publish is confirmed, which is the
 * point of confirms; classic mirrored queues are deprecated. Quorum queues on RabbitMQ 3.10 expire
 * only the head of a queue, so each backoff step has its own queue with one TTL rather than
 * per-message TTLs that would block each other; their dead-lettering is made at-least-once
 * (`dead-letter-strategy`, which needs `overflow: reject-publish`), else a broker crash between the
 * TTL and the re-route could drop a retry.
 */

/** The backoff steps a retry can wait, shortest first. The dispatcher picks one per attempt. */
export const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000] as const;

/**
 * The work queues' `x-delivery-limit`. A message handed out again this many times (crashing
 * consumers) is on its last allowed delivery (`x-delivery-count` = the limit): the dispatcher
 * dead-letters it itself then, with reason `poison` and the OTP recorded failed. Should even that
 * fail, RabbitMQ dead-letters it on its next return (reason `delivery_limit` in `x-death`).
 */
export const POISON_DELIVERY_LIMIT = 20;

export interface Topology {
  readonly prefix: string;
  readonly exchange: string;
  readonly deadQueue: string;
  workQueue(channel: DispatchRoute): string;
  delayQueue(channel: DispatchRoute, delayMs: number): string;
}

export function topology(prefix: string): Topology {
  return {
    prefix,
    exchange: `${prefix}.delivery`,
    deadQueue: `${prefix}.delivery.dead`,
    workQueue: (channel) => `${prefix}.delivery.${channel}`,
    delayQueue: (channel, delayMs) => `${prefix}.delivery.${channel}.retry.${delayMs}ms`,
  };
}

const AT_LEAST_ONCE_DEAD_LETTERING = {
  "x-dead-letter-strategy": "at-least-once",
  "x-overflow": "reject-publish",
} as const;

function workQueueOptions(t: Topology): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-delivery-limit": POISON_DELIVERY_LIMIT,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": t.deadQueue,
      ...AT_LEAST_ONCE_DEAD_LETTERING,
    },
  };
}

function delayQueueOptions(t: Topology, channel: DispatchRoute, delayMs: number): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-message-ttl": delayMs,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": t.workQueue(channel),
      ...AT_LEAST_ONCE_DEAD_LETTERING,
    },
  };
}

/**
 * Declares the exchange, the work queues of `channels` with their bindings (every channel and the
 * webhooks by default: a publish must route whichever dispatchers run), and the dead-letter queue.
 */
export async function assertTopology(
  ch: AmqpChannel,
  t: Topology,
  channels: readonly DispatchRoute[] = DISPATCH_ROUTES,
): Promise<void> {
  await ch.assertExchange(t.exchange, "direct", { durable: true });
  await assertDeadQueue(ch, t);
  for (const channel of channels) {
    await ch.assertQueue(t.workQueue(channel), workQueueOptions(t));
    await ch.bindQueue(t.workQueue(channel), t.exchange, channel);
  }
}

/** Declares the dead-letter queue (also to restore it when someone deleted it while the services ran). */
export async function assertDeadQueue(ch: AmqpChannel, t: Topology): Promise<void> {
  await ch.assertQueue(t.deadQueue, { durable: true, arguments: { "x-queue-type": "quorum" } });
}

/** Declares one delay queue. Delay queues are declared when first needed, not all up front. */
export async function assertDelayQueue(
  ch: AmqpChannel,
  t: Topology,
  channel: DispatchRoute,
  delayMs: number,
): Promise<string> {
  const name = t.delayQueue(channel, delayMs);
  await ch.assertQueue(name, delayQueueOptions(t, channel, delayMs));
  return name;
}

/** Removes everything {@link assertTopology} and {@link assertDelayQueue} may have declared (tests). */
export async function deleteTopology(ch: AmqpChannel, t: Topology): Promise<void> {
  for (const channel of DISPATCH_ROUTES) {
    await ch.deleteQueue(t.workQueue(channel));
    for (const delay of RETRY_DELAYS_MS) await ch.deleteQueue(t.delayQueue(channel, delay));
  }
  await ch.deleteQueue(t.deadQueue);
  await ch.deleteExchange(t.exchange);
}

/**
 * A setup hook for {@link ManagedConnection.addSetup}: declares the topology on a short-lived channel
 * at every (re)connection, so that whichever process connects first makes the queues exist.
 */
export function declareTopologyOnConnect(t: Topology): (connection: ChannelModel) => Promise<void> {
  return async (connection) => {
    const channel = await connection.createChannel();
    try {
      await assertTopology(channel, t);
    } finally {
      await channel.close().catch(() => {});
    }
  };
}
