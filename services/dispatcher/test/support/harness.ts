import { randomUUID } from "node:crypto";
import {
  type ConfirmPublisher,
  createBrokerClient,
  type ManagedConnection,
  RETRY_DELAYS_MS,
  silentLog,
  type Topology,
  topology,
} from "@otp/broker";
import { useTestBroker } from "@otp/broker/testing";
import {
  type Channel,
  type Config,
  createLogger,
  DELIVERY_EVENT_VERSION,
  type DeliveryContent,
  type DeliveryEvent,
  DISPATCH_ROUTES,
  type DispatchRoute,
  deriveKeyring,
  digestPassword,
  encrypt,
  parseConfig,
  sealContent,
} from "@otp/contracts";
import { createDb, createPool } from "@otp/db";
import { useTestDatabase } from "@otp/db/testing";
import { RecordingProvider, serviceEnv } from "@otp/testkit";
import amqp from "amqplib";
import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { type Dispatcher, type DispatcherOptions, startDispatcher } from "../../src/dispatcher.js";

/** The master secret the tests' API stand-in and every dispatcher under test share. */
export const TEST_SECRET = "test-secret-for-the-dispatcher-suite";
export const TELEGRAM_TOKEN = "tg-app-token";
/** Short delay tiers so retries take fractions of a second in tests (production: RETRY_DELAYS_MS). */
export const TEST_TIERS = [200, 400, 800, 1_600, 3_200] as const;

export interface OtpInput {
  readonly channel: Channel;
  readonly target: string;
  readonly password?: string;
  readonly message?: string;
  readonly subject?: string;
  readonly text?: string | null;
  readonly html?: string | null;
  readonly lifetimeMs?: number;
}

export interface DeliveryRow {
  readonly status: string;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly deliveredAt: Date | null;
  readonly expireAt: Date;
}

/**
 * Everything a dispatcher test file needs: its own database and broker names, a recording provider
 * standing in for every HTTP service, a way to create OTPs and publish their events the way the API
 * does (row + sealed event + confirmed publish), and dispatchers started in-process.
 */
export function useHarness(label: string) {
  const pgConfig = useTestDatabase();
  const broker = useTestBroker(label);
  const t: Topology = topology(broker.prefix);
  const provider = new RecordingProvider();
  const keys = deriveKeyring(TEST_SECRET);
  const started: Dispatcher[] = [];
  let pool: pg.Pool | undefined;
  let connection: ManagedConnection | undefined;
  let publisher: ConfirmPublisher | undefined;
  let inspector: amqp.ChannelModel | undefined;

  beforeAll(async () => {
    await provider.start();
    pool = createPool(pgConfig(), { applicationName: "dispatcher-tests", onError: () => {} });
    ({ connection, publisher } = await createBrokerClient({
      ...broker,
      name: "tests",
      log: silentLog,
      minReconnectDelayMs: 50,
    }));
    connection.start();
    await connection.waitForConnection(10_000);
  });

  afterAll(async () => {
    await Promise.all(started.map((d) => d.stop()));
    await connection?.close();
    // useTestBroker deletes the production tiers; the test tiers' queues are ours to delete.
    const c = await harness.amqp();
    const ch = await c.createChannel();
    for (const channel of DISPATCH_ROUTES) {
      for (const ms of TEST_TIERS) {
        if (!(RETRY_DELAYS_MS as readonly number[]).includes(ms)) await ch.deleteQueue(t.delayQueue(channel, ms));
      }
    }
    await c.close();
    await pool?.end();
    await provider.stop();
  });

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} exists only once beforeAll has run`);
    return value;
  };

  const harness = {
    provider,
    broker,
    t,
    keys,
    pgConfig,
    get pool() {
      return need(pool, "the pool");
    },
    /** A plain connection for looking at queues; a new one after a broker restart. */
    async amqp(): Promise<amqp.ChannelModel> {
      if (!inspector) {
        const c = await amqp.connect(broker.url);
        c.on("error", () => {});
        c.once("close", () => {
          if (inspector === c) inspector = undefined;
        });
        inspector = c;
      }
      return inspector;
    },

    /** The variables a dispatcher process of this file runs with (also for child processes). */
    env(overrides: Record<string, string> = {}): Record<string, string> {
      const url = provider.url;
      return serviceEnv(
        { pg: pgConfig(), broker, secret: TEST_SECRET },
        {
          OTP_QUEUE_URL: `${url}/queue`,
          OTP_SMS_URL: `${url}/smsvc`,
          OTP_CALL_URL: `${url}/callsvc`,
          OTP_EMAIL_URL: `${url}/emailsvc`,
          OTP_TELEGRAM_URL: `${url}/tg`,
          OTP_TELEGRAM_APP_TOKEN: TELEGRAM_TOKEN,
          OTP_SMS_WORKER: "sms-worker",
          OTP_CALL_WORKER: "call-worker",
          OTP_EMAIL_WORKER: "email-worker",
          OTP_TELEGRAM_WORKER: "telegram-worker",
          OTP_DELIVERY_TIMEOUT: "2",
          DISPATCHER_PORT: "0",
          LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
          ...overrides,
        },
      );
    },

    config(overrides: Record<string, string> = {}): Config {
      const result = parseConfig(harness.env(overrides));
      if (!result.ok) throw new Error(result.errors.join("\n"));
      return result.config;
    },

    /** Starts a dispatcher in this process; stopped after the file's tests. */
    async start(
      overrides: Record<string, string> = {},
      options: Partial<Omit<DispatcherOptions, "config">> = {},
    ): Promise<Dispatcher> {
      const config = harness.config(overrides);
      const dispatcher = await startDispatcher({
        config,
        log: createLogger("otp-dispatcher", config.logLevel),
        retryTiersMs: TEST_TIERS,
        random: () => 0.5,
        drainMs: 3_000,
        minReconnectDelayMs: 50,
        ...options,
      });
      started.push(dispatcher);
      return dispatcher;
    },

    /** Inserts an OTP row and builds its sealed event, as the API does (not yet published). */
    async createOtp(input: OtpInput): Promise<DeliveryEvent> {
      const otpId = randomUUID();
      const eventId = randomUUID();
      const password = input.password ?? "123456";
      const createdAt = new Date();
      const expireAt = new Date(createdAt.getTime() + (input.lifetimeMs ?? 300_000));
      const { db, tables } = createDb(harness.pool, pgConfig().schema);
      await db.insert(tables.otp).values({
        id: otpId,
        channel: input.channel,
        target: input.target,
        passwordDigest: digestPassword(keys, password),
        passwordCipher: encrypt(keys, password, otpId),
        createdAt,
        expireAt,
      });
      const content: DeliveryContent = {
        password,
        ...(input.message !== undefined ? { message: input.message } : {}),
        ...(input.subject !== undefined ? { subject: input.subject } : {}),
        ...(input.text !== undefined ? { text: input.text } : {}),
        ...(input.html !== undefined ? { html: input.html } : {}),
      };
      return {
        v: DELIVERY_EVENT_VERSION,
        id: eventId,
        otp_id: otpId,
        channel: input.channel,
        target: input.target,
        created_at: createdAt.toISOString(),
        expire_at: expireAt.toISOString(),
        sealed: sealContent(keys, content, eventId),
      };
    },

    /** Publishes an event (or any bytes) to its channel's (or the webhooks') work queue, confirmed. */
    async publish(event: DeliveryEvent | { channel: DispatchRoute; raw: Buffer; id?: string }): Promise<void> {
      const p = need(publisher, "the publisher");
      if ("raw" in event) {
        await p.publish(t.exchange, event.channel, event.raw, { messageId: event.id ?? randomUUID() });
      } else {
        await p.publish(t.exchange, event.channel, Buffer.from(JSON.stringify(event)), { messageId: event.id });
      }
    },

    /** createOtp + publish. */
    async send(input: OtpInput): Promise<DeliveryEvent> {
      const event = await harness.createOtp(input);
      await harness.publish(event);
      return event;
    },

    async row(otpId: string): Promise<DeliveryRow> {
      const result = await harness.pool.query(
        "SELECT delivery_status, delivery_attempts, delivery_last_error, delivered_at, expire_at FROM otp WHERE id = $1",
        [otpId],
      );
      const r = result.rows[0];
      if (!r) throw new Error(`no otp row ${otpId}`);
      return {
        status: r.delivery_status,
        attempts: r.delivery_attempts,
        lastError: r.delivery_last_error,
        deliveredAt: r.delivered_at,
        expireAt: r.expire_at,
      };
    },

    async status(otpId: string): Promise<string> {
      return (await harness.row(otpId)).status;
    },

    async messageCount(queue: string): Promise<number> {
      const ch = await (await harness.amqp()).createChannel();
      try {
        return (await ch.checkQueue(queue)).messageCount;
      } finally {
        await ch.close().catch(() => {});
      }
    },
  };
  return harness;
}

export type Harness = ReturnType<typeof useHarness>;

/** The one `until` of the test suites (@otp/testkit), for the files that import it from here. */
export { until } from "@otp/testkit";
