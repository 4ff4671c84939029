import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type BrokerClient, type BrokerClientOptions, createBrokerClient } from "@otp/broker";
import { type Config, type Keyring, type Logger, PASSWORD_PLACEHOLDER } from "@otp/contracts";
import { createPool, createSql, createTables, loadKeyring, type Sql } from "@otp/db";
import type pg from "pg";
import { Registry } from "prom-client";
import { createApp } from "./app.js";
import { type Clock, systemClock } from "./clock.js";
import { syncEnvWebhook } from "./domain/webhooks/store.js";
import { drain, listen } from "./http/listen.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { AfterCommitPublisher } from "./outbox/after-commit.js";
import { DeleteBatcher } from "./outbox/delete-batcher.js";
import { ABANDON_GRACE_MS, OutboxRelay, type RelayOptions } from "./outbox/relay.js";
import { Retention, type RetentionOptions } from "./retention/retention.js";
import { BROKER_CLOSE_MS, CLOSE_BUDGET_MS, DRAIN_MS, flushTimeoutMs } from "./shutdown-budget.js";
import { CounterSweeper, ExpirySweeper } from "./sweeper.js";

export interface StartOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Overrides `config.port`; 0 picks a free port (tests). */
  readonly port?: number;
  readonly broker?: Pick<
    BrokerClientOptions,
    "confirmTimeoutMs" | "minReconnectDelayMs" | "maxReconnectDelayMs" | "closeTimeoutMs"
  >;
  readonly relay?: Pick<RelayOptions, "intervalMs" | "graceMs" | "batchSize">;
  readonly retention?: Pick<RetentionOptions, "intervalMs" | "batchSize" | "pauseMs">;
  /** In-flight requests get this long to finish on close before their connections are cut (default DRAIN_MS). */
  readonly drainMs?: number;
}

export interface RunningApi {
  readonly port: number;
  /** The app itself, for in-process requests (`app.request`) in tests. */
  readonly app: ReturnType<typeof createApp>;
  readonly keys: Keyring;
  readonly metrics: Metrics;
  readonly pool: pg.Pool;
  readonly broker: BrokerClient;
  readonly relay: OutboxRelay;
  /** Deletes forgotten guessing counters every minute; `sweep()` runs one pass now (tests). */
  readonly sweeper: CounterSweeper;
  /** Emits `otp.expired` every 5 s; `sweep()` runs one pass now (tests). */
  readonly expirySweeper: ExpirySweeper;
  /** Deletes OTP rows past OTP_RETENTION every minute; `pass()` runs one now (tests). */
  readonly retention: Retention;
  /** Graceful stop: no new connections, in-flight requests finish, outbox work flushed, everything closed. */
  close(): Promise<void>;
}

/**
 * Builds the real dependencies from the configuration and serves the app. The database must be
 * migrated already (main.ts does it first). RabbitMQ need not be up: the connection comes up in the
 * background and the outbox holds events until then.
 */
export async function startApi(config: Config, options: StartOptions): Promise<RunningApi> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const pool = createPool(config.pg, {
    applicationName: "otp-api",
    onError: (error) => logger.warn({ err: error }, "idle PostgreSQL connection failed"),
  });
  const sql = createSql(createTables(config.pg.schema));
  const keys = await loadKeyring(pool, config.pg, config.otp.secret, { log: logger });
  warnAboutSettings(config, logger);
  await syncEnvWebhookOrClose({ pool, sql, keys, clock }, config);

  const broker = await connectBroker(config, logger, options.broker);
  const { afterCommit, relay } = startOutbox({ pool, sql, broker, clock, logger }, options.relay);
  const metrics = createMetrics(new Registry(), { processMetrics: true });
  const { sweeper, expirySweeper, retention } = startHousekeeping(
    { pool, sql, clock, logger },
    metrics.registry,
    config,
    options,
  );

  const app = createApp({
    config,
    pool,
    keys,
    clock,
    logger,
    metrics,
    afterCommit: (pending) => afterCommit.publish(pending),
    brokerReady: () => broker.publisher.isReady,
  });

  const server = await listen(app, config.http, options.port ?? config.port, logger);
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, "otp-api listening");

  let closing: Promise<void> | undefined;
  const sweepers = [sweeper, expirySweeper, retention];
  const close = () =>
    stopApi({ server, afterCommit, relay, sweepers, broker, pool, logger }, options.drainMs ?? DRAIN_MS);
  return {
    port,
    app,
    keys,
    metrics,
    pool,
    broker,
    relay,
    sweeper,
    expirySweeper,
    retention,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** The broker client, connecting in the background: the outbox holds events until it is up. */
async function connectBroker(config: Config, logger: Logger, overrides: StartOptions["broker"]): Promise<BrokerClient> {
  const broker = await createBrokerClient({
    url: config.amqp.urls,
    prefix: config.amqp.prefix,
    name: "otp-api",
    log: logger,
    closeTimeoutMs: BROKER_CLOSE_MS,
    ...overrides,
  });
  broker.connection.start();
  return broker;
}

/** The graceful stop of RunningApi.close, in order: the HTTP server, the outbox, the broker, the pool. */
async function stopApi(
  parts: {
    server: HttpServer;
    afterCommit: AfterCommitPublisher;
    relay: OutboxRelay;
    sweepers: readonly { stop(): Promise<void> }[];
    broker: BrokerClient;
    pool: pg.Pool;
    logger: Logger;
  },
  drainMs: number,
): Promise<void> {
  const { server, afterCommit, relay, sweepers, broker, pool, logger } = parts;
  // One deadline for the whole stop (shutdown-budget.ts has the arithmetic): each step gets what
  // the previous ones left, so the sum cannot outgrow the force exit.
  const deadline = Date.now() + CLOSE_BUDGET_MS;
  await drain(server, drainMs);
  // Side by side, not one after the other, in what is left before the broker's share. The relay's
  // stop takes up to ABANDON_GRACE_MS past its timeout (an abandoned pass rolling back).
  const flushMs = flushTimeoutMs(deadline, Date.now());
  await Promise.all([
    relay.stop(Math.max(0, flushMs - ABANDON_GRACE_MS)),
    afterCommit.drain(flushMs),
    ...sweepers.map((s) => s.stop()),
  ]);
  await broker.connection.close(); // at most BROKER_CLOSE_MS
  await pool.end();
  logger.info({}, "otp-api stopped");
}

/**
 * The outbox's two halves: the after-commit publisher (the fast path, right after each create) and
 * the relay (what the fast path left behind, every second).
 */
function startOutbox(
  parts: { pool: pg.Pool; sql: Sql; broker: BrokerClient; clock: Clock; logger: Logger },
  relayOptions: StartOptions["relay"],
): { afterCommit: AfterCommitPublisher; relay: OutboxRelay } {
  const { pool, sql, broker, clock, logger } = parts;
  const deletes = new DeleteBatcher(pool, sql.outbox, logger);
  const afterCommit = new AfterCommitPublisher(broker.publisher, broker.topology.exchange, deletes, logger);
  const relay = new OutboxRelay({
    pool,
    sql: sql.outbox,
    publisher: broker.publisher,
    exchange: broker.topology.exchange,
    clock,
    log: logger,
    ...relayOptions,
  });
  relay.start();
  return { afterCommit, relay };
}

/** The `OTP_WEBHOOK_URL` subscription, kept equal to the variables; a refused URL stops the start, the pool closed. */
async function syncEnvWebhookOrClose(
  parts: { pool: pg.Pool; sql: Sql; keys: Keyring; clock: Clock },
  config: Config,
): Promise<void> {
  await syncEnvWebhook(parts, config.webhooks).catch(async (error: unknown) => {
    await parts.pool.end();
    throw error;
  });
}

/**
 * The periodic jobs: forgotten guessing counters (`CounterSweeper`, every minute), `otp.expired`
 * (`ExpirySweeper`, every 5 s) and old OTP rows (`Retention`, every minute).
 */
function startHousekeeping(
  parts: Pick<RetentionOptions, "pool" | "sql" | "clock" | "logger">,
  registry: Registry,
  config: Config,
  options: StartOptions,
): { sweeper: CounterSweeper; expirySweeper: ExpirySweeper; retention: Retention } {
  const sweeper = new CounterSweeper(parts);
  sweeper.start();
  const expirySweeper = new ExpirySweeper({ ...parts, maxFailures: config.otp.maxCheckAttempts });
  expirySweeper.start();
  const { retentionSeconds } = config.otp;
  const retention = new Retention({ ...parts, registry, retentionSeconds, ...options.retention });
  retention.start();
  return { sweeper, expirySweeper, retention };
}

/** Settings that are valid but almost certainly a mistake: said once, at start. */
function warnAboutSettings(config: Config, logger: Logger): void {
  if (!config.telegramWebhook.message.includes(PASSWORD_PLACEHOLDER)) {
    logger.warn({}, `OTP_TELEGRAM_MESSAGE has no ${PASSWORD_PLACEHOLDER}: webhook codes would reach nobody`);
  }
}
