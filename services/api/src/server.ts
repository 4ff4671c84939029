import type { AddressInfo } from "node:net";
import { type BrokerClient, type BrokerClientOptions, createBrokerClient } from "@otp/broker";
import type { Logger } from "@otp/contracts";
import { type Config, type Keyring, PASSWORD_PLACEHOLDER } from "@otp/contracts";
import { createPool, createSql, createTables, loadKeyring } from "@otp/db";
import type pg from "pg";
import { Registry } from "prom-client";
import { createApp } from "./app.js";
import { type Clock, systemClock } from "./clock.js";
import { listen } from "./http/listen.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { AfterCommitPublisher } from "./outbox/after-commit.js";
import { DeleteBatcher } from "./outbox/delete-batcher.js";
import { ABANDON_GRACE_MS, OutboxRelay, type RelayOptions } from "./outbox/relay.js";
import { BROKER_CLOSE_MS, CLOSE_BUDGET_MS, DRAIN_MS, flushTimeoutMs } from "./shutdown-budget.js";

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
  if (!config.telegramWebhook.message.includes(PASSWORD_PLACEHOLDER)) {
    logger.warn({}, `OTP_TELEGRAM_MESSAGE has no ${PASSWORD_PLACEHOLDER}: webhook codes would reach nobody`);
  }

  // RabbitMQ need not be up: the connection comes up in the background and the outbox holds events.
  const broker = await createBrokerClient({
    ...config.amqp,
    name: "otp-api",
    log: logger,
    closeTimeoutMs: BROKER_CLOSE_MS,
    ...options.broker,
  });
  broker.connection.start();
  const deletes = new DeleteBatcher(pool, sql.outbox, logger);
  const afterCommit = new AfterCommitPublisher(broker.publisher, broker.topology.exchange, deletes, logger);
  const relay = new OutboxRelay({
    pool,
    sql: sql.outbox,
    publisher: broker.publisher,
    exchange: broker.topology.exchange,
    clock,
    log: logger,
    ...options.relay,
  });
  relay.start();

  const metrics = createMetrics(new Registry(), { processMetrics: true });
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

  const server = await listen(app, config.http, options.port ?? config.port);
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, "otp-api listening");

  let closing: Promise<void> | undefined;
  const close = async () => {
    // One deadline for the whole stop (shutdown-budget.ts has the arithmetic): each step gets what
    // the previous ones left, so the sum cannot outgrow main.ts's force exit.
    const deadline = Date.now() + CLOSE_BUDGET_MS;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Connections kept alive go as soon as they are idle, including those whose request was in
    // flight when the stop began; whatever is still busy after `drainMs` is cut.
    const reaper = setInterval(() => server.closeIdleConnections(), 25);
    server.closeIdleConnections();
    const drainTimer = setTimeout(() => server.closeAllConnections(), options.drainMs ?? DRAIN_MS);
    await stopped;
    clearInterval(reaper);
    clearTimeout(drainTimer);
    // Side by side, not one after the other, in what is left before the broker's share. The relay's
    // stop takes up to ABANDON_GRACE_MS past its timeout (an abandoned pass rolling back).
    const flushMs = flushTimeoutMs(deadline, Date.now());
    await Promise.all([relay.stop(Math.max(0, flushMs - ABANDON_GRACE_MS)), afterCommit.drain(flushMs)]);
    await broker.connection.close(); // at most BROKER_CLOSE_MS
    await pool.end();
    logger.info({}, "otp-api stopped");
  };
  return {
    port,
    app,
    keys,
    metrics,
    pool,
    broker,
    relay,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
