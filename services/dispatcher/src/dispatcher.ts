import { hostname } from "node:os";
import { assertTopology, createBrokerClient, type ManagedConnection, POISON_DELIVERY_LIMIT } from "@otp/broker";
import type { Channel, Config, HealthContent, Logger } from "@otp/contracts";
import { createPool, databaseAnswers, loadKeyring, migrateWhenReachable } from "@otp/db";
import type { ConsumeMessage } from "amqplib";
import { Registry } from "prom-client";
import type { MessageContext, Settlement } from "./consume/consumer.js";
import { QueueConsumer } from "./consume/consumer.js";
import { holdUntilDone } from "./consume/hold.js";
import { type HandlerDeps, handleEvent } from "./decide/handle-event.js";
import { RetryPolicy } from "./decide/retry-policy.js";
import { type HttpServer, startHttpServer } from "./ops/http-server.js";
import { createMetrics, type Metrics } from "./ops/metrics.js";
import { DelayQueues } from "./settle/delay-queues.js";
import { settle } from "./settle/settle.js";
import { StatusStore } from "./status.js";
import { createTransport } from "./transports/index.js";

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

export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  await migrateWhenReachable(config.pg, { log });
  const pool = createPool(config.pg, {
    applicationName: "otp-dispatcher",
    onError: (error) => log.warn({ err: error }, "idle PostgreSQL client failed"),
  });
  const keys = await loadKeyring(pool, config.pg, config.otp.secret, { log });
  const store = new StatusStore(pool, config.pg.schema);
  const metrics = createMetrics(new Registry(), { processMetrics: true });
  const transport = createTransport(config.delivery);
  const policy = new RetryPolicy({
    maxAttempts: config.delivery.maxAttempts,
    ...(options.retryTiersMs ? { tiersMs: options.retryTiersMs } : {}),
    ...(options.random ? { random: options.random } : {}),
  });

  // Every channel's queue, not only ours: the API's publishes must route even if only this process runs.
  const {
    connection,
    publisher,
    topology: t,
  } = await createBrokerClient({
    ...config.amqp,
    name: `otp-dispatcher ${hostname()} ${process.pid}`,
    log,
    minReconnectDelayMs: options.minReconnectDelayMs,
    closeTimeoutMs: BROKER_CLOSE_MS,
  });
  const delayQueues = new DelayQueues(connection, t);
  const settleDeps = { store, publisher, topology: t, delayQueues, metrics, log, now };

  const handlerFor = (channel: Channel) => {
    const channelLog = log.child({ channel });
    // Built once per channel, not per message (the hot path): only `lookup` depends on the message,
    // through the signal that abandons it.
    const handlerDeps: Omit<HandlerDeps, "lookup"> = {
      keys,
      transport,
      policy,
      now,
      observeAttempt: (ch, seconds) => metrics.attemptDuration.observe({ channel: ch }, seconds),
      deliveryLimit: POISON_DELIVERY_LIMIT,
    };
    const channelSettleDeps = { ...settleDeps, log: channelLog };
    return async (message: ConsumeMessage, ctx: MessageContext): Promise<Settlement> => {
      metrics.inFlight.inc({ channel });
      try {
        const headers = message.properties.headers as Record<string, unknown> | undefined;
        const outcome = await handleEvent(
          {
            ...handlerDeps,
            lookup: (otpId) =>
              holdUntilDone("read the delivery status", () => store.lookup(otpId), ctx.abandon, channelLog),
          },
          { queueChannel: channel, content: message.content, headers },
          ctx.forceStop,
        );
        await settle(
          channelSettleDeps,
          outcome,
          { queueChannel: channel, content: message.content, messageId: message.properties.messageId, headers },
          ctx.abandon,
        );
        return "ack";
      } finally {
        metrics.inFlight.dec({ channel });
      }
    };
  };

  const consumers = config.dispatcher.channels.map(
    (channel) =>
      new QueueConsumer(connection, {
        queue: t.workQueue(channel),
        prefetch: config.dispatcher.prefetch,
        log: log.child({ channel }),
        handler: handlerFor(channel),
        declare: (ch) => assertTopology(ch, t, [channel]),
      }),
  );
  for (const consumer of consumers) await consumer.attach();
  connection.start();

  const health = async (): Promise<HealthContent> => {
    const database = await databaseAnswers(pool, HEALTH_TIMEOUT_MS);
    const consuming = config.dispatcher.channels.filter((_, i) => consumers[i]?.isConsuming);
    return { database, broker: connection.isConnected, consuming };
  };
  const server: HttpServer = await startHttpServer({
    port: config.dispatcher.port,
    health,
    registry: metrics.registry,
    log,
  });
  log.info(
    {
      port: server.port,
      channels: config.dispatcher.channels,
      prefetch: config.dispatcher.prefetch,
      mode: config.delivery.dummy ? "dummy" : config.delivery.mode,
    },
    "dispatcher started; health and metrics on this port",
  );

  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    metrics,
    connection,
    health,
    stop() {
      stopping ??= (async () => {
        await Promise.all(consumers.map((c) => c.stop(options.drainMs ?? DRAIN_MS)));
        await server.close();
        await connection.close();
        await pool.end();
        log.info({}, "dispatcher stopped");
      })();
      return stopping;
    },
  };
}
