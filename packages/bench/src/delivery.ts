import { type NodeProcess, sleep } from "@otp/testkit";
import autocannon from "autocannon";
import type pg from "pg";
import { phpJsonEncode } from "../../../services/dispatcher/src/transports/php-json.js";
import { queueTask, renderCall } from "../../../services/dispatcher/src/transports/render.js";
import { type CpuSnapshot, coresBetween, type Roles, snapshot } from "./cpu.js";
import { type Measurement, measureHttp } from "./load.js";

/**
 * End-to-end delivery: N OTPs are created through the API while no dispatcher runs (their events
 * wait, confirmed, in RabbitMQ), then the dispatchers start and the provider records the N Queue
 * tasks. The rate is taken between the first and the last request the provider received (so
 * process start-up is left out), or, in DUMMY mode where nothing is sent, between the first and
 * the last `delivered_at` written. Every run waits until all N status rows say `delivered`.
 */

export interface DeliveryResult {
  readonly name: string;
  readonly events: number;
  readonly eventsPerSecond: number;
  /** Seconds from starting the dispatcher processes to the last delivery (start-up included). */
  readonly wallSeconds: number;
  /** Provider requests for these OTPs beyond one per OTP (redeliveries): expected 0 here. */
  readonly duplicates: number;
  readonly cores: Record<string, number>;
}

export interface DeliveryRun {
  readonly name: string;
  readonly events: number;
  /** Distinct per run: the run's OTPs are found by their expiry through the expire_at index. */
  readonly lifetimeSeconds: number;
  readonly apiUrl: string;
  readonly providerUrl: string;
  readonly pool: pg.Pool;
  readonly roles: Roles;
  readonly dummy: boolean;
  readonly startDispatchers: () => NodeProcess[];
  readonly log: (message: string) => void;
}

interface Recorded {
  readonly receivedAt: number;
  readonly headers: Record<string, string>;
}

async function control(providerUrl: string, path: string, method = "GET"): Promise<unknown> {
  const res = await fetch(`${providerUrl}${path}`, { method });
  return res.json();
}

/** Creates `amount` OTPs through the API (16 connections), all with lifetime `lifetime`. */
function createThroughApi(apiUrl: string, amount: number, lifetime: number, phoneBase: number): Promise<void> {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: apiUrl,
        connections: 16,
        amount,
        timeout: 10,
        requests: [
          {
            method: "POST",
            path: "/sms",
            headers: { "content-type": "application/json" },
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({
                phone: String(phoneBase + ++n),
                password: "12345",
                lifetime,
                message: "Your OTP is 12345",
              }),
            }),
          },
        ],
      },
      (error, result) => {
        if (error) reject(error);
        else if (result.non2xx + result.errors + result.timeouts > 0)
          reject(
            new Error(`creating OTPs for the delivery run failed: ${result.non2xx} non-2xx, ${result.errors} errors`),
          );
        else resolve();
      },
    );
  });
}

export async function measureDelivery(run: DeliveryRun): Promise<DeliveryResult> {
  const { pool, providerUrl, log } = run;
  await control(providerUrl, "/__control/reset", "POST");
  const since = new Date();
  const window = [
    new Date(since.getTime() + run.lifetimeSeconds * 1000 - 1000),
    new Date(since.getTime() + run.lifetimeSeconds * 1000 + 600_000),
  ];
  const countDelivered = async () => {
    const { rows } = await pool.query<{ total: number; delivered: number; first: Date | null; last: Date | null }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE delivery_status = 'delivered')::int AS delivered,
         min(delivered_at) AS first, max(delivered_at) AS last
       FROM otp WHERE expire_at BETWEEN $1 AND $2`,
      window,
    );
    return rows[0] as { total: number; delivered: number; first: Date | null; last: Date | null };
  };
  // Distinct phones per run (its lifetime tells runs apart), all valid Kazakh mobiles (7701…, 7702…):
  // the API refuses numbers the numbering plan calls invalid.
  const phoneBase = 77_010_000_000 + (Math.floor(run.lifetimeSeconds / 60) % 100) * 100_000;
  await createThroughApi(run.apiUrl, run.events, run.lifetimeSeconds, phoneBase);
  // Every event confirmed by RabbitMQ (the outbox is emptied on confirm) before the clock starts.
  for (let i = 0; ; i++) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
    if (rows[0]?.n === 0) break;
    if (i > 600) throw new Error(`the outbox still holds ${rows[0]?.n} events`);
    await sleep(100);
  }
  log(`  ${run.events} OTPs created, events in RabbitMQ; starting the dispatcher(s)`);

  const startedAt = Date.now();
  const dispatchers = run.startDispatchers();
  const roles = { ...run.roles, dispatcher: dispatchers.map((d) => d.pid) };
  const before: CpuSnapshot = snapshot(roles);
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (run.dummy) {
      if ((await countDelivered()).delivered >= run.events) break;
    } else {
      const c = (await control(providerUrl, "/__control")) as { recorded: number };
      if (c.recorded >= run.events) break;
    }
    if (Date.now() > deadline) throw new Error(`${run.name}: not all ${run.events} delivered within 180 s`);
    await sleep(50);
  }
  const after = snapshot(roles);
  const doneAt = Date.now();
  // The status rows follow the provider's answers closely; wait for all of them.
  let counted = await countDelivered();
  while (counted.delivered < run.events && Date.now() < deadline) {
    await sleep(100);
    counted = await countDelivered();
  }
  if (counted.delivered < run.events) throw new Error(`${run.name}: ${counted.delivered} of ${run.events} delivered`);
  await Promise.all(dispatchers.map((d) => d.stop()));

  let seconds: number;
  let duplicates = 0;
  if (run.dummy) {
    seconds = ((counted.last?.getTime() ?? 0) - (counted.first?.getTime() ?? 0)) / 1000;
  } else {
    const { requests } = (await control(providerUrl, "/__requests?path=/task")) as { requests: Recorded[] };
    const times = requests.map((r) => r.receivedAt);
    seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    duplicates = requests.length - new Set(requests.map((r) => r.headers["idempotency-key"])).size;
  }
  const cores = coresBetween(before, after);
  return {
    name: run.name,
    events: run.events,
    eventsPerSecond: (run.events - 1) / Math.max(seconds, 0.001),
    wallSeconds: (doneAt - startedAt) / 1000,
    duplicates,
    cores,
  };
}

/**
 * The provider's own ceiling: the exact Queue task body the dispatcher sends for an SMS, POSTed to
 * `/task` by the load generator over 32 connections.
 */
export function measureProviderCeiling(
  providerUrl: string,
  options: { seconds: number; warmupSeconds: number; roles: Roles },
): Promise<Measurement> {
  const providers = {
    sms: { url: providerUrl, worker: "sms" },
    call: { url: providerUrl, worker: "sms" },
    email: { url: providerUrl, worker: "email" },
    telegram: { url: providerUrl, worker: "telegram", appToken: "" },
  };
  let n = 0;
  const body = () =>
    phpJsonEncode(
      queueTask(
        renderCall(providers, "sms", String(60_000_000_000 + ++n), { password: "12345", message: "Your OTP is 12345" }),
      ),
    );
  return measureHttp({
    url: providerUrl,
    method: "POST",
    path: "/task",
    body,
    connections: 32,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    roles: options.roles,
  }).finally(() => control(providerUrl, "/__control/reset", "POST"));
}
