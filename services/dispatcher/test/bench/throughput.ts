/**
 * Delivery throughput of one dispatcher process against the local recording provider:
 *   pnpm --filter dispatcher bench -- [--events 10000] [--mode queue|direct|dummy] [--prefetch 64]
 * (from services/dispatcher). Creates a scratch database and broker prefix, inserts the OTP rows and
 * publishes their sealed events first, then starts the dispatcher and times it until every OTP is
 * delivered. Everything runs on this machine; the scratch database and queues are removed at the end.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConfirmPublisher, deleteTopology, ManagedConnection, silentLog, topology } from "@otp/broker";
import {
  DELIVERY_EVENT_VERSION,
  type DeliveryEvent,
  deriveKeyring,
  digestPassword,
  encrypt,
  parseConfig,
  sealContent,
} from "@otp/contracts";
import { createPool, migrate } from "@otp/db";
import { RecordingProvider } from "@otp/testkit";
import amqp from "amqplib";
import pg from "pg";

const { values } = parseArgs({
  // `pnpm … bench -- --events 1000` passes the "--" along.
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
  options: {
    events: { type: "string", default: "10000" },
    mode: { type: "string", default: "queue" },
    prefetch: { type: "string", default: "64" },
    /** Extra node flags for the dispatcher process, e.g. --node-arg=--cpu-prof */
    "node-arg": { type: "string", multiple: true, default: [] },
  },
});
const N = Number(values.events);
const base = parseConfig(process.env);
if (!base.ok) throw new Error(base.errors.join("\n"));
const tag = `bench_${process.pid}_${randomBytes(3).toString("hex")}`;
const pgConfig = { ...base.config.pg, database: `otp_${tag}` };
const prefix = tag.replaceAll("_", ".");
const secret = "bench-secret-0123456789";
const keys = deriveKeyring(secret);

await migrate(pgConfig);
const pool = createPool(pgConfig, { applicationName: "bench", onError: () => {} });
const provider = new RecordingProvider({ maxRecords: 1_000 });
await provider.start();

const t = topology(prefix);
const connection = new ManagedConnection({ url: base.config.amqp.url, name: "bench", log: silentLog });
await connection.addSetup(async (c) => {
  const { assertTopology } = await import("@otp/broker");
  const ch = await c.createChannel();
  await assertTopology(ch, t);
  await ch.close();
});
const publisher = await ConfirmPublisher.attach(connection, { log: silentLog });
connection.start();
await connection.waitForConnection(10_000);

const channels = ["sms", "call", "email", "telegram"] as const;
const events: DeliveryEvent[] = [];
const prepStart = performance.now();
for (let start = 0; start < N; start += 1_000) {
  const rows: unknown[] = [];
  const placeholders: string[] = [];
  for (let i = start; i < Math.min(N, start + 1_000); i++) {
    const channel = channels[i % 4] as (typeof channels)[number];
    const otpId = randomUUID();
    const id = randomUUID();
    const now = new Date();
    const expire = new Date(now.getTime() + 600_000);
    const target =
      channel === "email" ? `u${i}@example.com` : channel === "telegram" ? String(1_000_000 + i) : `7701${i}`;
    const content = { password: "123456", message: "Your code: {password}", subject: "Code {password}" };
    const p = rows.length;
    placeholders.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7})`);
    rows.push(otpId, channel, target, digestPassword(keys, "123456"), encrypt(keys, "123456", otpId), now, expire);
    events.push({
      v: DELIVERY_EVENT_VERSION,
      id,
      otp_id: otpId,
      channel,
      target,
      created_at: now.toISOString(),
      expire_at: expire.toISOString(),
      sealed: sealContent(keys, content, id),
    });
  }
  await pool.query(
    `INSERT INTO otp (id, channel, target, password_digest, password_cipher, created_at, expire_at) VALUES ${placeholders.join(",")}`,
    rows,
  );
}
await Promise.all(
  events.map((e) => publisher.publish(t.exchange, e.channel, Buffer.from(JSON.stringify(e)), { messageId: e.id })),
);
const prepared = performance.now();
process.stdout.write(`prepared ${N} OTPs and confirmed events in ${((prepared - prepStart) / 1000).toFixed(1)} s\n`);

const url = provider.url;
const child = spawn(
  process.execPath,
  [
    ...(values["node-arg"] ?? []),
    "--conditions=source",
    "--import",
    "tsx",
    fileURLToPath(new URL("../../src/main.ts", import.meta.url)),
  ],
  {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: {
      ...process.env,
      PG_DATABASE: pgConfig.database,
      RABBITMQ_PREFIX: prefix,
      OTP_SECRET: secret,
      OTP_QUEUE_URL: url,
      OTP_SMS_URL: url,
      OTP_CALL_URL: url,
      OTP_EMAIL_URL: url,
      OTP_TELEGRAM_URL: url,
      OTP_DELIVERY_MODE: values.mode === "direct" ? "direct" : "queue",
      DUMMY: values.mode === "dummy" ? "true" : "false",
      DISPATCHER_PREFETCH: values.prefetch,
      DISPATCHER_PORT: "0",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  },
);
const started = performance.now();
const count = async () =>
  Number((await pool.query("SELECT count(*) FROM otp WHERE delivery_status = 'delivered'")).rows[0].count);
let firstAt: number | undefined;
for (;;) {
  const done = await count();
  if (done > 0 && firstAt === undefined) firstAt = performance.now();
  if (done >= N) break;
  if (performance.now() - started > 300_000) throw new Error(`only ${done} of ${N} delivered after 300 s`);
  await new Promise((r) => setTimeout(r, 100));
}
const finished = performance.now();
const seconds = (finished - (firstAt ?? started)) / 1000;
process.stdout.write(
  `${values.mode} mode, prefetch ${values.prefetch}: ${N} deliveries in ${seconds.toFixed(2)} s after the first = ${Math.round(N / seconds)} events/s` +
    ` (${((finished - started) / 1000).toFixed(2)} s including process start); provider saw ${provider.requests().length ? "requests" : "no requests"}\n`,
);

child.kill("SIGTERM");
await new Promise((r) => child.once("exit", r));
await connection.close();
await pool.end();
await provider.stop();
const admin = new pg.Client({
  host: pgConfig.realHost,
  port: pgConfig.port,
  user: pgConfig.user,
  password: pgConfig.password,
  database: "postgres",
});
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS "${pgConfig.database}" WITH (FORCE)`);
await admin.end();
const c = await amqp.connect(base.config.amqp.url);
await deleteTopology(await c.createChannel(), t);
await c.close();
