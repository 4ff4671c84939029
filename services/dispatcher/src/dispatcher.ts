import { hostname } from "node:os";
import { assertTopology, createBrokerClient, type ManagedConnection, POISON_DELIVERY_LIMIT } from "@otp/broker";
import { type Config, type DispatchRoute, type HealthContent, isOtpChannel, type Logger } from "@otp/contracts";
import { createPool, databaseAnswers, loadKeyring, migrateWhenReachable } from "@otp/db";
import type pg from "pg";
import { Registry } from "prom-client";
import { type MessageHandler, QueueConsumer } from "./consume/consumer.js";
import { RetryPolicy } from "./decide/retry-policy.js";
import { startHttpServer } from "./ops/http-server.js";
import { createMetrics, type Metrics } from "./ops/metrics.js";
import { type PipelineDeps, pipelineFor } from "./pipeline.js";
import { DelayQueues } from "./settle/delay-queues.js";
import { StatusStore } from "./status/status-store.js";
import { createTransport } from "./transports/index.js";
import { webhookPipeline } from "./webhooks/pipeline.js";
import { createWebhookSender } from "./webhooks/sender.js";
import { SubscriptionSlots } from "./webhooks/slots.js";
import { SubscriptionCache } from "./webhooks/subscriptions.js";

export interface DispatcherOptions {
  readonly config: Config;
  readonly log: Logger;
  /** The delay queues' TTLs; production uses RETRY_DELAYS_MS, tests short ones. */
  readonly retryTiersMs?: readonly number[];
  /** [0, 1), for the retry jitter; tests make it deterministic. */
  readonly random?: () => number;
  readonly now?: () => number;
  /** How long SIGTERM waits for in-flight deliveries before abandoning them (they are redelivered). */
  readonly drainMs?: number;
  readonly minReconnectDelayMs?: number;
}

export interface Dispatcher {
  /** The bound health/metrics port (DISPATCHER_PORT=0 picks a free one). */
  readonly port: number;
  readonly metrics: Metrics;
  readonly connection: ManagedConnection;
  health(): Promise<HealthContent>;
  /** Graceful stop: no new messages, in-flight ones finished (or abandoned after drainMs), all closed. */
  stop(): Promise<void>;
}

/**
 * The stop's budget inside the services' FORCE_EXIT_MS (9 s): in-flight deliveries get DRAIN_MS,
 * then the rest are abandoned (≤ 0.5 s), and the RabbitMQ close waits at most BROKER_CLOSE_MS for
 * the broker's answer, leaving over a second for the channels, the pool and the exit.
 */
const DRAIN_MS = 6_000;
const BROKER_CLOSE_MS = 1_000;

/** A health probe answers within this long, whatever PostgreSQL does. */
const HEALTH_TIMEOUT_MS = 2_000;

/**
 * Builds the dispatcher's parts and starts them: one consumer per work queue in
 * DISPATCHER_CHANNELS, each on an AMQP channel of its own with its own prefetch — an OTP channel's
 * running every message through the pipeline (pipeline.ts), the webhooks' through theirs
 * (webhooks/pipeline.ts) — and the health/metrics port.
 */
export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { config, log } = options;
  const { pool, keys, store } = await openDatabase(config, log);
  const metrics = createMetrics(new Registry(), { processMetrics: true });
  // Every channel's queue, not only ours: the API's publishes must route even if only this process runs.
  const { connection, publisher, topology } = await createBrokerClient({
    url: config.amqp.urls,
    prefix: config.amqp.prefix,
    name: `otp-dispatcher ${hostname()} ${process.pid}`,
    log,
    minReconnectDelayMs: options.minReconnectDelayMs,
    closeTimeoutMs: BROKER_CLOSE_MS,
  });
  const pipeline: PipelineDeps = {
    keys,
    store,
    publisher,
    topology,
    metrics,
    log,
    now: options.now ?? Date.now,
    transport: createTransport(config.delivery),
    policy: retryPolicy(options),
    delayQueues: new DelayQueues(connection, topology),
    deliveryLimit: POISON_DELIVERY_LIMIT,
  };
  const handlerFor = handlers(pipeline, options, pool);
  const consumers = config.dispatcher.channels.map(
    (channel) =>
      new QueueConsumer(connection, {
        queue: topology.workQueue(channel),
        prefetch: config.dispatcher.prefetch,
        log: log.child({ channel }),
        handler: handlerFor(channel),
        declare: (ch) => assertTopology(ch, topology, [channel]),
      }),
  );
  for (const consumer of consumers) await consumer.attach();
  connection.start();

  const health = async (): Promise<HealthContent> => ({
    database: await databaseAnswers(pool, HEALTH_TIMEOUT_MS),
    broker: connection.isConnected,
    consuming: config.dispatcher.channels.filter((_, i) => consumers[i]?.isConsuming),
  });
  const server = await startHttpServer({ port: config.dispatcher.port, health, registry: metrics.registry, log });
  logStarted(config, log, server.port);

  const stop = once(async () => {
    await Promise.all(consumers.map((c) => c.stop(options.drainMs ?? DRAIN_MS)));
    await server.close();
    await connection.close();
    await pool.end();
    log.info({}, "dispatcher stopped");
  });
  return { port: server.port, metrics, connection, health, stop };
}

/** The schema migrated (once PostgreSQL answers), the pool, the keys and the delivery status store. */
async function openDatabase(config: Config, log: Logger) {
  await migrateWhenReachable(config.pg, { log });
  const pool = createPool(config.pg, {
    applicationName: "otp-dispatcher",
    onError: (error) => log.warn({ err: error }, "idle PostgreSQL client failed"),
  });
  const keys = await loadKeyring(pool, config.pg, config.otp.secret, { log });
  return { pool, keys, store: new StatusStore(pool, config.pg.schema, config.otp.maxCheckAttempts) };
}

/** Each work queue's handler: an OTP channel's pipeline, or the webhooks' (built once, if consumed). */
function handlers(pipeline: PipelineDeps, options: DispatcherOptions, pool: pg.Pool) {
  const { config } = options;
  let webhooks: MessageHandler | undefined;
  return (route: DispatchRoute): MessageHandler => {
    if (isOtpChannel(route)) return pipelineFor(pipeline, route);
    webhooks ??= webhookPipeline({
      ...pipeline,
      // No attempt limit: a webhook is retried for OTP_WEBHOOK_MAX_AGE (its window), whatever its code does.
      policy: retryPolicy(options, Number.MAX_SAFE_INTEGER),
      sender: createWebhookSender(config.webhookDelivery),
      maxAgeMs: config.webhookDelivery.maxAgeMs,
      subscriptions: new SubscriptionCache({ pool, schema: config.pg.schema, keys: pipeline.keys }),
      slots: SubscriptionSlots.forPrefetch(config.dispatcher.prefetch),
    });
    return webhooks;
  };
}

function retryPolicy(options: DispatcherOptions, maxAttempts = options.config.delivery.maxAttempts): RetryPolicy {
  return new RetryPolicy({
    maxAttempts,
    ...(options.retryTiersMs ? { tiersMs: options.retryTiersMs } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
}

function logStarted(config: Config, log: Logger, port: number): void {
  log.info(
    {
      port,
      channels: config.dispatcher.channels,
      prefetch: config.dispatcher.prefetch,
      mode: config.delivery.dummy ? "dummy" : config.delivery.mode,
    },
    "dispatcher started; health and metrics on this port",
  );
}

/** The first call runs `fn`; every later one gets the same promise (a second SIGTERM, a test's afterAll). */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}
