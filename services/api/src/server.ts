import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { type Config, deriveKeyring, type Keyring, PASSWORD_PLACEHOLDER } from "@otp/contracts";
import { createDb, createPool, loadMasterSecret, tableNames } from "@otp/db";
import type pg from "pg";
import { Registry } from "prom-client";
import { createApp } from "./app.js";
import { type Broker, type BrokerOptions, connectBroker } from "./broker.js";
import { type Clock, systemClock } from "./clock.js";
import type { Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { DeleteBatcher } from "./outbox/delete-batcher.js";
import { AfterCommitPublisher } from "./outbox/publisher.js";
import { OutboxRelay, type RelayOptions } from "./outbox/relay.js";

export interface StartOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Overrides `config.port`; 0 picks a free port (tests). */
  readonly port?: number;
  readonly broker?: BrokerOptions;
  readonly relay?: Pick<RelayOptions, "intervalMs" | "graceMs" | "batchSize">;
  /** In-flight requests get this long to finish on close before their connections are cut. */
  readonly drainMs?: number;
}

export interface RunningApi {
  readonly port: number;
  /** The app itself, for in-process requests (`app.request`) in tests. */
  readonly app: ReturnType<typeof createApp>;
  readonly keys: Keyring;
  readonly metrics: Metrics;
  readonly pool: pg.Pool;
  readonly broker: Broker;
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
  const tables = tableNames(config.pg.schema);
  const secret = await loadMasterSecret(createDb(pool, config.pg.schema), config.otp.secret);
  if (secret.stored) {
    logger.warn(
      {},
      "OTP_SECRET is not set: using a key generated and stored in the database. Set OTP_SECRET to a dedicated secret.",
    );
  }
  const keys = deriveKeyring(secret.value);
  if (!config.telegramWebhook.message.includes(PASSWORD_PLACEHOLDER)) {
    logger.warn({}, `OTP_TELEGRAM_MESSAGE has no ${PASSWORD_PLACEHOLDER}: webhook codes would reach nobody`);
  }

  const broker = await connectBroker(config.amqp, logger, options.broker);
  const deletes = new DeleteBatcher(pool, tables.outbox, logger);
  const afterCommit = new AfterCommitPublisher(broker.publisher, broker.topology.exchange, deletes, logger);
  const relay = new OutboxRelay({
    pool,
    tables,
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

  // HTTP/1.1 only (createAdaptorServer's default); the cast gives the http.Server methods used on close.
  const server = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? config.port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, "otp-api listening");

  let closing: Promise<void> | undefined;
  const close = async () => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Connections kept alive go as soon as they are idle, including those whose request was in
    // flight when the stop began; whatever is still busy after `drainMs` is cut.
    const reaper = setInterval(() => server.closeIdleConnections(), 25);
    server.closeIdleConnections();
    const drainTimer = setTimeout(() => server.closeAllConnections(), options.drainMs ?? 5_000);
    await stopped;
    clearInterval(reaper);
    clearTimeout(drainTimer);
    // Side by side, not one after the other: the relay's bounded stop (3 s) and the publish drain
    // (2 s) then fit, with the 5 s request drain, inside main.ts's 9 s force-exit.
    await Promise.all([relay.stop(), afterCommit.drain(2_000)]);
    await broker.connection.close();
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
