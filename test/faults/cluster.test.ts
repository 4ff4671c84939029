import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { topology } from "@otp/broker";
import { deleteTestTopology, testPrefix } from "@otp/broker/testing";
import { CHANNELS } from "@otp/contracts";
import { createPool } from "@otp/db";
import { basePgConfig, createTestDatabase, type TestDatabase } from "@otp/db/testing";
import { freePort, killAll, metricValue, type NodeProcess, RabbitMqCluster, sleep, until } from "@otp/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { clusterProfileFromEnv } from "./support/cluster-profile.js";
import { type Attempt, LoadGenerator } from "./support/load.js";
import { LOG_DIR, ROOT } from "./support/processes.js";
import { analyse, type DbRow, targetOf } from "./support/report.js";
import {
  type DispatcherProcess,
  health,
  ProviderControl,
  type ProviderRecord,
  type SystemConfig,
  startApi,
  startDispatcher,
  startProvider,
} from "./support/services.js";

/**
 * The cluster fault test (`pnpm test:cluster`, docs/operations.md#fault-tolerance): a throwaway
 * three-node RabbitMQ cluster (scripts/rabbitmq-cluster.sh), the built API, two dispatchers and a
 * recording provider as processes of their own, every service given the three nodes in
 * RABBITMQ_URL, under a steady stream of OTP creations. Then, one after the other:
 *   A. the node the services are connected to is SIGKILLed, and started again after a while;
 *   B. a node leading the sms work queue (and none of the services' connections) likewise.
 * Every accepted OTP must reach the provider (zero lost), deliveries must resume within seconds
 * of each kill without any service being restarted, and the repeats are counted.
 *
 * It uses the shared PostgreSQL but not the shared RabbitMQ (its nodes are its own, on ports
 * 5701–5703), so it disturbs no other test; it needs root (or the rabbitmq user) to run the nodes.
 */

const profile = clusterProfileFromEnv();
const REPORT_FILE = join(ROOT, `test/faults/last-report.cluster-${profile.name}.md`);
const LIFETIME_S = 3_600;
const CLIENT_TIMEOUT_MS = 10_000;
const PROVIDER_LATENCY_MS = 100;
/** "Deliveries resume within seconds": the bound on the first delivery of a code created after a kill. */
const RESUME_BOUND_MS = 10_000;
/** Keep the cluster running after the test (CLUSTER_KEEP=1), e.g. to run the test again at once. */
const KEEP = process.env.CLUSTER_KEEP === "1";

const cluster = new RabbitMqCluster();
const prefix = testPrefix("cluster");
const t = topology(prefix);
const workQueues = CHANNELS.map((c) => t.workQueue(c));
let startedCluster = false;
let database: TestDatabase | undefined;
let load: LoadGenerator | undefined;

beforeAll(async () => {
  const why = RabbitMqCluster.unavailableBecause();
  if (why) throw new Error(`the cluster test cannot run on this machine: ${why}`);
  // A cluster already running (started by hand) is used and left running; else this run starts its own.
  if (!(await cluster.isRunning())) {
    startedCluster = true;
    await cluster.start();
  }
  database = await createTestDatabase(basePgConfig(), inject("pgTemplate"));
}, 300_000);

afterAll(async () => {
  await load?.stop().catch(() => {});
  await killAll();
  await database?.drop().catch((error) => console.error("could not drop the test database:", error));
  await cluster.copyLogs(join(LOG_DIR, "rabbitmq")).catch((error) => console.error("no RabbitMQ logs:", error));
  if (startedCluster && !KEEP) {
    await cluster.stop().catch((error) => console.error("could not stop the cluster:", error));
  } else {
    await deleteTestTopology(cluster.url(1), prefix).catch((error) =>
      console.error("could not delete the topology:", error),
    );
  }
}, 180_000);

/** A node fault and what was measured around it. */
interface Fault {
  readonly label: string;
  readonly what: string;
  readonly node: number;
  /** The work queues whose leader was on the node when it was killed. */
  readonly led: string[];
  /** The services connected to the node when it was killed. */
  readonly connected: string[];
  readonly from: number;
  killAt: number;
  restartedAt: number;
  /** When every queue had all its members online again. */
  healedAt: number;
  to: number;
  /** The dispatchers' `duplicate` outcomes (redeliveries of events already delivered) before the kill and at the end. */
  duplicates: [number, number];
  /** Per service that was connected to the node: its next connection, when (epoch ms) and where. */
  readonly reconnections: { service: string; at: number; node: number | undefined }[];
}

it(`loses no accepted OTP when RabbitMQ cluster nodes die (profile ${profile.name})`, async () => {
  if (!database) throw new Error("no database");
  const startedAt = Date.now();
  const failures: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) failures.push(message);
  };
  const sys: SystemConfig = {
    pg: database.config,
    rabbitmqUrl: cluster.urls.join(","),
    prefix,
    apiPort: await freePort(),
    providerPort: await freePort(),
    secret: "the cluster fault test's secret",
  };
  const control = new ProviderControl(sys.providerPort);
  await startProvider(sys);
  await control.setDelay(PROVIDER_LATENCY_MS);
  const api = await startApi(sys, "cluster-api");
  const dispatchers: DispatcherProcess[] = [
    await startDispatcher(sys, "cluster-dispatcher-1"),
    await startDispatcher(sys, "cluster-dispatcher-2"),
  ];
  const services: NodeProcess[] = [api, ...dispatchers];
  const pids = services.map((p) => p.pid);

  // The topology is on the cluster: quorum queues with a member on every node.
  const initial = await queuesOf();
  for (const name of [...workQueues, t.deadQueue]) {
    const q = initial.find((x) => x.name === name);
    check(
      q?.type === "quorum" && q.members.length === cluster.size,
      `${name}: expected a quorum queue with ${cluster.size} members, got ${JSON.stringify(q)}`,
    );
  }
  const leadersAtStart = workQueues.map((name) => `${short(name)}: ${shortNode(initial, name)}`).join(", ");

  const runTag = String(Date.now() % 10_000).padStart(4, "0");
  load = new LoadGenerator({
    port: sys.apiPort,
    ratePerSecond: profile.rate,
    maxInFlight: 256,
    timeoutMs: CLIENT_TIMEOUT_MS,
    lifetime: LIFETIME_S,
    runTag,
  });
  const generator = load;
  generator.phase = "warmup";
  generator.start();
  await sleep(profile.warmupMs);

  const faults: Fault[] = [];
  /** Kills `node`, keeps it down for a while, starts it again and waits for every queue to be whole. */
  const nodeFault = async (label: string, what: string, node: number): Promise<Fault> => {
    const before = await queuesOf();
    const connectedTo = new Map(services.map((p) => [p, connectedNode(p)]));
    const onNode = services.filter((p) => connectedTo.get(p) === node);
    const fault: Fault = {
      label,
      what,
      node,
      led: workQueues.filter((name) => before.find((q) => q.name === name)?.leader === cluster.nodeName(node)),
      connected: onNode.map((p) => p.name),
      from: Date.now(),
      killAt: 0,
      restartedAt: 0,
      healedAt: 0,
      to: 0,
      duplicates: [await duplicateOutcomes(dispatchers), 0],
      reconnections: [],
    };
    faults.push(fault);
    generator.phase = label;
    const reconnected = onNode.map((p) =>
      p
        .waitForLog("connected to RabbitMQ", { fromNow: true, timeoutMs: 60_000 })
        .then((entry) => {
          fault.reconnections.push({
            service: p.name,
            at: typeof entry.time === "string" ? Date.parse(entry.time) : Date.now(),
            node: cluster.nodeOf(String(entry.address)),
          });
        })
        .catch((error) => failures.push(`${p.name} did not reconnect after the kill: ${String(error).slice(0, 300)}`)),
    );
    fault.killAt = await cluster.kill(node);
    await sleep(profile.downMs);
    await cluster.restart(node);
    fault.restartedAt = Date.now();
    await until(async () => (await queuesOf()).every((q) => q.online.length === cluster.size), {
      timeoutMs: 60_000,
      intervalMs: 1_000,
      what: "every queue to have all its members online again",
    }).catch((error) => failures.push(`${label}: ${String(error)}`));
    fault.healedAt = Date.now();
    await Promise.all(reconnected);
    await sleep(profile.recoveryMs);
    fault.to = Date.now();
    fault.duplicates[1] = await duplicateOutcomes(dispatchers);
    return fault;
  };

  // A. The node every service is connected to (each lists node 1 first, so node 1).
  const nodesOfServices = new Set(services.map(connectedNode));
  check(nodesOfServices.size === 1, `the services are not all on one node: ${[...nodesOfServices].join(", ")}`);
  const a = await nodeFault(
    "node-of-services",
    "SIGKILL the node the API and both dispatchers are connected to",
    [...nodesOfServices][0] as number,
  );
  for (const p of services.filter((s) => a.connected.includes(s.name))) {
    const now = connectedNode(p);
    check(now !== undefined && now !== a.node, `${p.name} is on node ${now} after node ${a.node} was killed`);
  }

  // B. A node leading the sms work queue (the busiest), which no service is connected to: if the
  //    leader is on the services' node, it is moved first.
  const servicesNow = new Set(services.map(connectedNode));
  const candidates = Array.from({ length: cluster.size }, (_, k) => k + 1).filter((n) => !servicesNow.has(n));
  const smsQueue = t.workQueue("sms");
  const smsLeader = cluster.nodeOf((await queuesOf()).find((q) => q.name === smsQueue)?.leader ?? "");
  const victim = smsLeader !== undefined && candidates.includes(smsLeader) ? smsLeader : candidates[0];
  if (victim === undefined) throw new Error(`no node without a service connection: ${[...servicesNow].join(", ")}`);
  if (victim !== smsLeader) await cluster.lead(smsQueue, victim);
  const b = await nodeFault(
    "leader-of-sms",
    "SIGKILL the node leading the sms work queue, no service connected to it",
    victim,
  );
  check(b.led.includes(smsQueue), `node ${b.node} did not lead ${smsQueue} when it was killed`);

  generator.phase = "cooldown";
  await sleep(Math.min(profile.recoveryMs, 5_000));
  const loadStoppedAt = Date.now();
  await generator.stop();

  // Settle: every OTP row leaves `pending`, the outbox empties.
  const pool = createPool(database.config, { applicationName: "cluster-check", onError: () => {} });
  try {
    const settled = await until(
      async () => {
        const { rows } = await pool.query<{ pending: number; outbox: number }>(
          `SELECT (SELECT count(*) FROM otp WHERE delivery_status = 'pending')::int AS pending,
                  (SELECT count(*) FROM outbox)::int AS outbox`,
        );
        return rows[0]?.pending === 0 && rows[0]?.outbox === 0;
      },
      { timeoutMs: profile.settleTimeoutMs, intervalMs: 500 },
    ).then(
      () => true,
      () => false,
    );
    const settleMs = Date.now() - loadStoppedAt;
    check(settled, `the system did not settle within ${profile.settleTimeoutMs / 1000} s of the load stopping`);
    const records = await control.requests();

    // No service was restarted, and each is healthy after all this.
    services.forEach((p, i) => {
      check(p.isRunning && p.pid === pids[i], `${p.name} is not the process it was at the start`);
    });
    const apiHealth = await health(sys.apiPort).catch((error) => ({ status: 0, body: String(error) }));
    check(apiHealth.status === 200, `API /health at the end: ${JSON.stringify(apiHealth)}`);
    for (const d of dispatchers) {
      const h = await health(d.healthPort ?? 0).catch((error) => ({ status: 0, body: String(error) }));
      check(h.status === 200, `${d.name} /health at the end: ${JSON.stringify(h)}`);
    }

    const rows = (
      await pool.query<DbRow>(
        "SELECT id, target, delivery_status, delivery_attempts, delivery_last_error FROM otp ORDER BY created_at",
      )
    ).rows;
    const outboxRows = Number((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox")).rows[0]?.n);
    const attempts = generator.attempts;
    const outcome = analyse(attempts, records, rows, outboxRows);
    const notDelivered = rows.filter((r) => r.delivery_status !== "delivered");
    const refused = attempts.filter((a) => a.status !== 200);
    check(
      refused.length === 0,
      `${refused.length} creates not accepted, e.g.\n    ${refused
        .slice(0, 5)
        .map(
          (a) =>
            `${brief(a)}, sent ${relativeTo(a.startedAt, faults)}, after ${(a.endedAt ?? a.startedAt) - a.startedAt} ms`,
        )
        .join("\n    ")}`,
    );
    check(outcome.lost.length === 0, `${outcome.lost.length} accepted OTPs never reached the provider`);
    check(notDelivered.length === 0, `${notDelivered.length} OTP rows are not 'delivered' in the database`);
    check(outboxRows === 0, `${outboxRows} rows left in the outbox`);

    const byKey = repeatsByKey(records);
    const relayed = loggedAt(api, "event left in the outbox for the relay");
    const figures = faults.map((f) => measure(f, attempts, records, relayed));
    // What the clients saw of each fault: connections lost, consumers cancelled by RabbitMQ.
    const seen = (msg: string, f: Fault) =>
      services.flatMap((p) => loggedAt(p, msg)).filter((at) => at >= f.killAt && at <= f.to).length;
    const disturbance = (f: Fault) =>
      `${seen("lost the connection to RabbitMQ; reconnecting", f)} / ${seen("RabbitMQ cancelled the consumer; consuming again", f)}`;
    check(
      seen("lost the connection to RabbitMQ; reconnecting", b) === 0,
      `${b.label}: a service lost its connection, though none was on node ${b.node}`,
    );
    const duplicatesInAll = await duplicateOutcomes(dispatchers);
    for (const f of figures) {
      check(
        f.resumeMs !== undefined && f.resumeMs <= RESUME_BOUND_MS,
        `${f.fault.label}: some OTP channel delivered no code created after the kill within ${RESUME_BOUND_MS} ms (${f.resumeMs} ms)`,
      );
    }

    const report = [
      `## Cluster fault test (${profile.name}) — ${new Date(startedAt).toISOString()}`,
      "",
      `A ${cluster.size}-node RabbitMQ cluster (scripts/rabbitmq-cluster.sh), every service given all ${cluster.size} nodes in RABBITMQ_URL; ` +
        `${profile.rate} creates/s (sms, call, email, telegram); the provider answers after ${PROVIDER_LATENCY_MS} ms; ` +
        `1 API, 2 dispatchers. Each killed node stayed down ${profile.downMs / 1000} s. ` +
        `${Math.round((Date.now() - startedAt) / 1000)} s in all; settled ${(settleMs / 1000).toFixed(1)} s after the load stopped. ` +
        `Work queue leaders at the start: ${leadersAtStart}.`,
      "",
      "| OTPs accepted | delivered | lost | creates refused | provider got a key twice (Idempotency-Key) | extra provider requests | redeliveries the dispatchers acked unsent |",
      "|---:|---:|---:|---:|---:|---:|---:|",
      `| ${outcome.accepted.length} | ${outcome.delivered} | ${outcome.lost.length} | ${refused.length} | ${byKey.keys} | ${byKey.extra} | ${duplicatesInAll} |`,
      "",
      "| fault | node killed | it led | services on it → reconnected to | connections lost / consumers cancelled | every channel delivering new codes again | longest pause in deliveries | create → delivery p50 / max | left to the outbox relay | repeats at the provider / acked unsent | node back / all members online |",
      "|---|---|---|---|---|--:|--:|---|--:|---|---|",
      ...figures.map(
        (f) =>
          `| ${f.fault.what} | ${cluster.nodeName(f.fault.node)} | ${f.fault.led.map(short).join(", ") || "—"} | ` +
          `${f.reconnected} | ${disturbance(f.fault)} | ${ms(f.resumeMs)} | ${ms(f.pauseMs)} | ${ms(f.p50)} / ${ms(f.max)} | ${f.relayed} | ` +
          `${f.repeats} / ${f.fault.duplicates[1] - f.fault.duplicates[0]} | ` +
          `${s(f.fault.restartedAt - f.fault.killAt)} / ${s(f.fault.healedAt - f.fault.killAt)} after the kill |`,
      ),
      "",
      `Database at the end: ${[...outcome.dbStatus.entries()].map(([k, v]) => `${v} ${k}`).join(", ")}; outbox rows ${outboxRows}.`,
      "",
    ].join("\n");
    const full =
      failures.length > 0 ? `${report}\n### Failures\n\n${failures.map((x) => `- ${x}`).join("\n")}\n` : report;
    writeFileSync(REPORT_FILE, full);
    console.log(`\n${full}\n(report: ${REPORT_FILE}; process logs: ${LOG_DIR})`);
  } finally {
    await pool.end().catch(() => {});
  }
  expect(failures).toEqual([]);
});

/** The cluster's queues of this run. */
async function queuesOf() {
  return (await cluster.queues()).filter((q) => q.name.startsWith(`${prefix}.`));
}

/** The node a service's latest RabbitMQ connection went to, from its log file (all of it, not the kept lines). */
function connectedNode(p: NodeProcess): number | undefined {
  const lines = readFileSync(p.logFile ?? "", "utf8").split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    if (!line.includes('"connected to RabbitMQ"')) continue;
    try {
      return cluster.nodeOf(String((JSON.parse(line) as { address?: string }).address));
    } catch {}
  }
  return undefined;
}

interface Figures {
  readonly fault: Fault;
  readonly reconnected: string;
  /**
   * From the kill until every OTP channel had delivered a code created after it: the slowest
   * channel's first new delivery (the queues the node led, and all of them when the services lost
   * their connection).
   */
  readonly resumeMs: number | undefined;
  /** The longest stretch without any provider request, from the kill to the end of the fault's phase. */
  readonly pauseMs: number;
  readonly p50: number | undefined;
  readonly max: number | undefined;
  /** Creates whose after-commit publish failed during the phase: the relay published them. */
  readonly relayed: number;
  /** Provider requests during the phase for an Idempotency-Key it had already received. */
  readonly repeats: number;
}

function measure(
  fault: Fault,
  attempts: readonly Attempt[],
  records: readonly ProviderRecord[],
  relayed: readonly number[],
): Figures {
  const firstByTarget = new Map<string, number>();
  for (const r of records) {
    const target = targetOf(r);
    if (target !== undefined && !firstByTarget.has(target)) firstByTarget.set(target, r.receivedAt);
  }
  const firstNew = CHANNELS.map((channel) =>
    Math.min(
      ...attempts
        .filter((a) => a.channel === channel && a.otpId !== undefined && a.startedAt >= fault.killAt)
        .map((a) => firstByTarget.get(a.target) ?? Number.POSITIVE_INFINITY),
    ),
  );
  const times = records
    .map((r) => r.receivedAt)
    .filter((at) => at >= fault.killAt && at <= fault.to)
    .sort((x, y) => x - y);
  let pauseMs = (times[0] ?? fault.to) - fault.killAt;
  for (let i = 1; i < times.length; i++) pauseMs = Math.max(pauseMs, (times[i] as number) - (times[i - 1] as number));
  const latencies = attempts
    .filter((a) => a.phase === fault.label && a.otpId !== undefined)
    .map((a) => (firstByTarget.get(a.target) ?? Number.POSITIVE_INFINITY) - a.startedAt)
    .sort((x, y) => x - y);
  const seen = new Set<string>();
  let repeats = 0;
  for (const r of [...records].sort((x, y) => x.receivedAt - y.receivedAt)) {
    const key = r.headers["idempotency-key"] ?? "";
    if (seen.has(key) && r.receivedAt >= fault.killAt && r.receivedAt <= fault.to) repeats++;
    seen.add(key);
  }
  const reconnected =
    fault.reconnections.length === 0
      ? "—"
      : fault.reconnections
          .sort((x, y) => x.at - y.at)
          .map((r) => `${r.service.replace("cluster-", "")} → node ${r.node} in ${ms(r.at - fault.killAt)}`)
          .join(", ");
  const slowest = Math.max(...firstNew);
  return {
    fault,
    reconnected,
    resumeMs: Number.isFinite(slowest) ? slowest - fault.killAt : undefined,
    pauseMs,
    p50: latencies[Math.floor(latencies.length / 2)],
    max: latencies.at(-1),
    relayed: relayed.filter((at) => at >= fault.from && at <= fault.to).length,
    repeats,
  };
}

/** When (epoch ms) a process logged `msg`, from its log file (all of it, not only the lines kept in memory). */
function loggedAt(p: NodeProcess, msg: string): number[] {
  return readFileSync(p.logFile ?? "", "utf8")
    .split("\n")
    .filter((line) => line.includes(`"msg":${JSON.stringify(msg)}`))
    .map((line) => Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? ""))
    .filter(Number.isFinite);
}

/** The dispatchers' `duplicate` outcomes so far: redeliveries of events whose OTP was already delivered, acked unsent. */
async function duplicateOutcomes(dispatchers: readonly DispatcherProcess[]): Promise<number> {
  let total = 0;
  for (const d of dispatchers) {
    const res = await fetch(`http://127.0.0.1:${d.healthPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    for (const channel of CHANNELS) total += metricValue(text, "deliveries_total", { channel, outcome: "duplicate" });
  }
  return total;
}

/** Idempotency-Keys the provider received more than once, and how many requests beyond the first. */
function repeatsByKey(records: readonly ProviderRecord[]): { keys: number; extra: number } {
  const counts = new Map<string, number>();
  for (const r of records) {
    const key = r.headers["idempotency-key"] ?? "";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let keys = 0;
  let extra = 0;
  for (const n of counts.values()) {
    if (n > 1) {
      keys++;
      extra += n - 1;
    }
  }
  return { keys, extra };
}

const short = (queue: string) => queue.slice(prefix.length + 1);
const shortNode = (queues: { name: string; leader: string }[], name: string) =>
  (queues.find((q) => q.name === name)?.leader ?? "?").replace("@localhost", "");
const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "—" : `${Math.round(v)} ms`);
const s = (v: number) => `${(v / 1000).toFixed(1)} s`;
const brief = (a: Attempt) =>
  `#${a.seq} ${a.phase}: ${a.status === undefined ? `no answer (${a.error})` : `HTTP ${a.status} ${a.body?.slice(0, 100)}`}`;

/** `at` as "12.3 s after the kill in <phase>", or "before the first kill". */
function relativeTo(at: number, faults: readonly Fault[]): string {
  const fault = [...faults].reverse().find((f) => f.killAt !== 0 && at >= f.killAt);
  return fault ? `${s(at - fault.killAt)} after the kill in ${fault.label}` : "before the first kill";
}
