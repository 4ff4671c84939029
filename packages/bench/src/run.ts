/**
 * `pnpm bench` (after `pnpm build`): the real API, dispatchers and recording provider as processes of
 * their own on a scratch database and broker prefix, loaded from this process with autocannon, each
 * figure beside a baseline measured in the same run:
 *   - POST /sms and GET /sms/check (JSON body on the GET, as seed clients send it) at several
 *     concurrencies, beside pgbench running the API's SQL and the bare Hono stack answering a constant;
 *   - delivery throughput API → RabbitMQ → dispatcher(s) → provider, beside the provider's ceiling.
 * Prints a Markdown table and writes it to packages/bench/last-results.md. Options:
 *   --seconds 4 --warmup 1 --connections 1,16,64 --events 10000 --only http|delivery --api-node-arg=--cpu-prof
 * Run it alone on the machine; where the machine is shared, under the exclusive lock with `-o`
 * (`flock -o /work/exclusive.lock pnpm bench`), so that nothing started meanwhile inherits the lock.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deleteTopology, topology } from "@otp/broker";
import {
  DELIVERY_EVENT_VERSION,
  deriveKeyring,
  digestPassword,
  encrypt,
  parseConfig,
  sealContent,
} from "@otp/contracts";
import type { CheckParams, IssueParams } from "@otp/db";
import { serviceEnv as envForServices, type NodeProcess, type StartNodeOptions, startNode } from "@otp/testkit";
import amqp from "amqplib";
import pg from "pg";
import type { Roles } from "./cpu.js";
import { type DeliveryResult, measureDelivery, measureProviderCeiling } from "./delivery.js";
import { type Measurement, measureHttp } from "./load.js";
import { describeMachine } from "./machine.js";
import { CHECK_PHONE_BASE, checkScript, createScript, fixedParams, type Protocol, pgbench } from "./pgbench.js";
import { freePort, ROOT } from "./processes.js";
import { type HttpRow, renderReport } from "./report.js";

const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
  options: {
    seconds: { type: "string", default: "4" },
    warmup: { type: "string", default: "1" },
    connections: { type: "string", default: "1,16,64" },
    events: { type: "string", default: "10000" },
    only: { type: "string" },
    protocol: { type: "string" },
    "api-node-arg": { type: "string", multiple: true, default: [] },
    "dispatcher-node-arg": { type: "string", multiple: true, default: [] },
    out: { type: "string", default: join(ROOT, "packages/bench/last-results.md") },
  },
});
const SECONDS = Number(opts.seconds);
const WARMUP = Number(opts.warmup);
const CONNECTIONS = (opts.connections ?? "").split(",").map(Number);
const EVENTS = Number(opts.events);
const runHttp = opts.only !== "delivery";
const runDelivery = opts.only !== "http";
/** How the API sends its statements; the pgbench baseline uses the same protocol (like with like). */
const PROTOCOL: Protocol = (opts.protocol as Protocol | undefined) ?? "prepared";

const started = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

const base = parseConfig(process.env);
if (!base.ok) throw new Error(base.errors.join("\n"));
const tag = `${process.pid}_${Date.now().toString(36)}`;
const pgConfig = { ...base.config.pg, database: `otp_bench_${tag}`, schema: "public" };
const prefix = `bench.${tag}`;
const amqpUrl = base.config.amqp.url;
const SECRET = "bench-secret-0123456789abcdef";
const keys = deriveKeyring(SECRET);
const workDir = mkdtempSync(join(tmpdir(), "otp-bench-"));
const logDir = join(workDir, "logs");
mkdirSync(logDir);
log(`work directory ${workDir} (service logs in logs/)`);

const children: NodeProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

async function main(): Promise<void> {
  const admin = new pg.Client({ ...clientOf(pgConfig), database: "postgres" });
  await admin.connect();
  const pgVersion = (await admin.query("SHOW server_version")).rows[0].server_version as string;
  await admin.end();
  const amqpConnection = await amqp.connect(base.ok ? base.config.amqp.url : "");
  const rabbitVersion = String(
    (amqpConnection as unknown as { connection: { serverProperties: { version?: string } } }).connection
      .serverProperties.version ?? "unknown",
  );
  const autocannonVersion = JSON.parse(
    readFileSync(join(ROOT, "packages/bench/node_modules/autocannon/package.json"), "utf8"),
  ).version as string;
  const machine = describeMachine({ postgres: pgVersion, rabbitmq: rabbitVersion, autocannon: autocannonVersion });
  const t = topology(prefix);
  cleanups.push(async () => {
    const ch = await amqpConnection.createChannel();
    await deleteTopology(ch, t);
    await amqpConnection.close();
  });
  cleanups.push(async () => {
    const c = new pg.Client({ ...clientOf(pgConfig), database: "postgres" });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${pgConfig.database}" WITH (FORCE)`);
    await c.end();
  });

  // The provider first: the dispatchers' URLs point at it.
  const providerPort = await freePort();
  const provider = spawnChild("provider", "packages/testkit/dist/recording-provider-cli.js", {
    args: ["--port", String(providerPort), "--max-records", String(EVENTS * 2 + 200_000)],
  });
  const providerUrl = `http://127.0.0.1:${providerPort}`;
  await provider.waitForHttp(`${providerUrl}/__control`, { timeoutMs: 60_000 });

  const serviceEnv = envForServices(
    { pg: pgConfig, broker: { url: amqpUrl, prefix }, secret: SECRET },
    {
      OTP_QUEUE_URL: providerUrl,
      OTP_SMS_URL: providerUrl,
      OTP_CALL_URL: providerUrl,
      OTP_EMAIL_URL: providerUrl,
      OTP_TELEGRAM_URL: providerUrl,
    },
  );
  const apiPort = await freePort();
  const api = spawnChild("api", "services/api/dist/main.js", {
    env: { ...serviceEnv, PORT: String(apiPort) },
    nodeArgs: opts["api-node-arg"] ?? [],
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await api.waitForHttp(`${apiUrl}/health`, { timeoutMs: 60_000 });
  log(`API on ${apiUrl}, database ${pgConfig.database}, prefix ${prefix}`);

  const pool = new pg.Pool({ ...clientOf(pgConfig), max: 2 });
  cleanups.unshift(() => pool.end());
  const roles: Roles = { api: [api.pid], provider: [provider.pid], loadgen: [process.pid] };

  const httpRows: HttpRow[] = [];
  if (runHttp) {
    const barePort = await freePort();
    const bare = spawnChild("bare", "packages/bench/src/bare-server.mjs", { args: [String(barePort)] });
    const bareUrl = `http://127.0.0.1:${barePort}`;
    await bare.waitForHttp(bareUrl, { timeoutMs: 60_000 });
    roles.bare = [bare.pid];

    // Distinct phones: the API's are CHECK_PHONE_BASE + 1, 2, 3 … (the checks draw from them).
    let created = 0;
    let bareCounter = 0;
    const createBodyFor = (phone: () => number) => () =>
      JSON.stringify({
        ip: "123.123.123.123",
        phone: String(phone()),
        password: "12345",
        lifetime: 3600,
        message: "Your OTP is 12345",
      });
    const createBody = createBodyFor(() => CHECK_PHONE_BASE + ++created);
    const bareCreateBody = createBodyFor(() => CHECK_PHONE_BASE + 50_000_000 + ++bareCounter);
    const checkBody = () =>
      JSON.stringify({
        phone: String(CHECK_PHONE_BASE + 1 + Math.floor(Math.random() * created)),
        password: "12345",
      });
    const http = (url: string, method: "GET" | "POST", path: string, body: () => string, connections: number) =>
      measureHttp({
        url,
        method,
        path,
        body,
        connections,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
        roles,
        ...(method === "GET" ? { expectBody: '{"status":true}' } : {}),
      });

    // The parameters pgbench passes as they are: those of a real create, built as the API builds them.
    const otpId = randomUUID();
    const eventId = randomUUID();
    const now = new Date();
    const expire = new Date(now.getTime() + 3_600_000);
    const event = {
      v: DELIVERY_EVENT_VERSION,
      id: eventId,
      otp_id: otpId,
      channel: "sms",
      target: String(CHECK_PHONE_BASE),
      created_at: now.toISOString(),
      expire_at: expire.toISOString(),
      sealed: sealContent(keys, { password: "12345", message: "Your OTP is 12345" }, eventId),
    };
    const createParams = fixedParams({
      channel: "sms",
      ip: "123.123.123.123",
      passwordDigest: `\\x${digestPassword(keys, "12345").toString("hex")}`,
      passwordCipher: `\\x${encrypt(keys, "12345", otpId).toString("hex")}`,
      generated: "false",
      createdAt: now.toISOString(),
      expireAt: expire.toISOString(),
      event: JSON.stringify(event),
      // The API's defaults: a client's code (no uniqueness test), OTP_RESEND=new.
      guarded: "true",
      unique: "false",
      supersede: "false",
      maxFailures: "5",
    } satisfies Partial<Record<keyof IssueParams, string>>);

    let pgbenchRun = 0;
    for (const c of CONNECTIONS) {
      log(`POST /sms, ${c} connections: API`);
      const apiM = await http(apiUrl, "POST", "/sms", createBody, c);
      // The API deletes published outbox rows in one statement per 20 ms flush: its share per create.
      const batch = Math.max(1, Math.min(500, Math.round(apiM.rps * 0.02)));
      log(`POST /sms, ${c} connections: pgbench (outbox delete every ${batch} inserts)`);
      const script = createScript(batch);
      const pgM = await pgbench(
        pgConfig,
        {
          script: script.script,
          vars: { ...createParams, ...script.vars(++pgbenchRun) },
          connections: c,
          seconds: SECONDS,
          protocol: PROTOCOL,
        },
        workDir,
        roles,
        WARMUP,
      );
      log(`POST /sms, ${c} connections: bare HTTP`);
      const bareM = await http(bareUrl, "POST", "/sms", bareCreateBody, c);
      httpRows.push({ endpoint: "POST /sms", connections: c, api: apiM, pgbench: pgM, bare: bareM, batch });
    }
    log(`${created} OTPs to check`);
    // A right guess, blinded as the API blinds it (a fixed nonce here: the work is the same).
    const nonce = randomBytes(16);
    const blinded = createHash("sha256").update(digestPassword(keys, "12345")).update(nonce).digest();
    const checkParams = fixedParams({
      channel: "sms",
      now: new Date().toISOString(),
      nonce: `\\x${nonce.toString("hex")}`,
      blinded: `\\x${blinded.toString("hex")}`,
      maxFailures: "5",
      singleUse: "false",
      throttleAfter: "5",
    } satisfies Partial<Record<keyof CheckParams, string>>);
    for (const c of CONNECTIONS) {
      log(`GET /sms/check, ${c} connections: API`);
      const apiM = await http(apiUrl, "GET", "/sms/check", checkBody, c);
      log(`GET /sms/check, ${c} connections: pgbench`);
      const pgM = await pgbench(
        pgConfig,
        {
          script: checkScript(),
          vars: { ...checkParams, created: String(created) },
          connections: c,
          seconds: SECONDS,
          protocol: PROTOCOL,
        },
        workDir,
        roles,
        WARMUP,
      );
      log(`GET /sms/check, ${c} connections: bare HTTP`);
      const bareM = await http(bareUrl, "GET", "/sms/check", checkBody, c);
      httpRows.push({ endpoint: "GET /sms/check", connections: c, api: apiM, pgbench: pgM, bare: bareM });
    }
    await bare.stop();
    delete roles.bare;
  }

  const deliveries: DeliveryResult[] = [];
  let ceiling: Measurement | undefined;
  if (runDelivery) {
    // Events of the HTTP runs are still queued (no dispatcher ran): not part of what is measured.
    const ch = await amqpConnection.createChannel();
    await ch.purgeQueue(t.workQueue("sms"));
    await ch.close();
    log("provider ceiling: POST /task straight from the load generator");
    ceiling = await measureProviderCeiling(providerUrl, { seconds: SECONDS, warmupSeconds: WARMUP, roles });
    const scenarios = [
      { name: "DUMMY=true, 1 dispatcher", dispatchers: 1, dummy: true },
      { name: "queue mode, 1 dispatcher", dispatchers: 1, dummy: false },
      { name: "queue mode, 2 dispatchers", dispatchers: 2, dummy: false },
      // The same single dispatcher with twice the default prefetch (128): this row against "queue
      // mode, 1 dispatcher" shows what more deliveries in flight per dispatcher buy.
      { name: "queue mode, 1 dispatcher, DISPATCHER_PREFETCH=256", dispatchers: 1, dummy: false, prefetch: 256 },
    ];
    for (const [i, s] of scenarios.entries()) {
      log(`delivery: ${s.name}, ${EVENTS} events`);
      deliveries.push(
        await measureDelivery({
          name: s.name,
          events: EVENTS,
          lifetimeSeconds: 7200 + 600 * i,
          apiUrl,
          providerUrl,
          pool,
          roles,
          dummy: s.dummy,
          startDispatchers: () =>
            Array.from({ length: s.dispatchers }, (_, k) =>
              spawnChild(`dispatcher-${i}-${k}`, "services/dispatcher/dist/main.js", {
                env: {
                  ...serviceEnv,
                  DISPATCHER_PORT: "0",
                  DUMMY: String(s.dummy),
                  ...("prefetch" in s ? { DISPATCHER_PREFETCH: String(s.prefetch) } : {}),
                },
                nodeArgs: opts["dispatcher-node-arg"] ?? [],
              }),
            ),
          log,
        }),
      );
    }
  }

  await api.stop();
  const elapsed = (performance.now() - started) / 1000;
  const report = renderReport({
    date: new Date(),
    machine,
    protocol: PROTOCOL,
    seconds: SECONDS,
    warmup: WARMUP,
    http: httpRows,
    ceiling,
    deliveries,
    elapsedSeconds: elapsed,
  });
  process.stdout.write(`\n${report}\n`);
  writeFileSync(opts.out ?? "", report);
  log(`written to ${opts.out}`);
}

function clientOf(c: typeof pgConfig): pg.ClientConfig {
  return { host: c.realHost, port: c.port, user: c.user, password: c.password, database: c.database };
}

/**
 * A service as a process of its own, on top of this process's environment; its output goes to
 * `<logDir>/<name>.log` unread (as a container's logs would: the service pays for its logging, the
 * load generator in this process does not).
 */
function spawnChild(
  name: string,
  entry: string,
  options: Pick<StartNodeOptions, "args" | "env" | "nodeArgs">,
): NodeProcess {
  const child = startNode({
    name,
    entry,
    ...options,
    cwd: ROOT,
    inheritEnv: true,
    logFile: join(logDir, `${name}.log`),
    keepLines: 0,
  });
  children.push(child);
  return child;
}

async function cleanup(): Promise<void> {
  await Promise.all(children.map((c) => c.stop(5_000)));
  for (const fn of cleanups) await fn().catch((error) => log(`cleanup: ${String(error)}`));
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.stderr.write(`service logs kept in ${logDir}\n`);
} finally {
  await cleanup();
  if (!failed && !(opts["api-node-arg"]?.length || opts["dispatcher-node-arg"]?.length)) {
    rmSync(workDir, { recursive: true, force: true });
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
process.exit(failed ? 1 : 0);
