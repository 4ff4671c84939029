import { hostname } from "node:os";
import {
  assertTopology,
  ConfirmPublisher,
  declareTopologyOnConnect,
  ManagedConnection,
  POISON_DELIVERY_LIMIT,
  topology,
} from "@otp/broker";
import { type Channel, type Config, deriveKeyring } from "@otp/contracts";
import { createDb, createPool, databaseAnswers, loadMasterSecret, migrateWhenReachable } from "@otp/db";
import type { ConsumeMessage } from "amqplib";
import type { MessageContext, Settlement } from "./consumer.js";
import { QueueConsumer } from "./consumer.js";
import { DelayQueues } from "./delay-queues.js";
import { type HandlerDeps, handleEvent } from "./handle-event.js";
import { holdUntilDone } from "./hold.js";
import { type HealthReport, type HttpServer, startHttpServer } from "./http-server.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { RetryPolicy } from "./retry-policy.js";
import { settle } from "./settle.js";
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
  health(): Promise<HealthReport>;
  /** Graceful stop: no new messages, in-flight ones finished (or abandoned after drainMs), all closed. */
  stop(): Promise<void>;
}

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
  const secret = await holdUntilDone(
    "load the master secret",
    () => loadMasterSecret(createDb(pool, config.pg.schema), config.otp.secret),
    new AbortController().signal,
    log,
  );
  if (secret.stored) {
    log.warn({}, "OTP_SECRET is not set: using the generated secret stored in the database; configure a dedicated one");
  }
  const keys = deriveKeyring(secret.value);
  const store = new StatusStore(pool, config.pg.schema);
  const t = topology(config.amqp.prefix);
  const metrics = new Metrics();
  const transport = createTransport(config.delivery);
  const policy = new RetryPolicy({
    maxAttempts: config.delivery.maxAttempts,
    ...(options.retryTiersMs ? { tiersMs: options.retryTiersMs } : {}),
    ...(options.random ? { random: options.random } : {}),
  });

  const connection = new ManagedConnection({
    url: config.amqp.url,
    name: `otp-dispatcher ${hostname()} ${process.pid}`,
    log,
    ...(options.minReconnectDelayMs !== undefined ? { minReconnectDelayMs: options.minReconnectDelayMs } : {}),
  });
  // Every channel's queue, not only ours: the API's publishes must route even if only this process runs.
  await connection.addSetup(declareTopologyOnConnect(t));
  const publisher = await ConfirmPublisher.attach(connection, { log });
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

  const health = async (): Promise<HealthReport> => {
    const database = (await databaseAnswers(pool, HEALTH_TIMEOUT_MS)) ? ("up" as const) : ("down" as const);
    const rabbitmq = connection.isConnected ? ("up" as const) : ("down" as const);
    const consuming = config.dispatcher.channels.filter((_, i) => consumers[i]?.isConsuming);
    return { ok: database === "up" && rabbitmq === "up", rabbitmq, database, consuming };
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
        await Promise.all(consumers.map((c) => c.stop(options.drainMs ?? 7_000)));
        await server.close();
        await connection.close();
        await pool.end();
        log.info({}, "dispatcher stopped");
      })();
      return stopping;
    },
  };
}
