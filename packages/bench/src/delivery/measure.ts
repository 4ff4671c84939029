import { type NodeProcess, sleep } from "@otp/testkit";
import type pg from "pg";
import { coresBetween, type Roles, snapshot } from "../cpu.js";
import { createBacklog } from "./create-events.js";
import { control, resetProvider } from "./provider.js";

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

/** The run's OTPs: created now with `lifetimeSeconds`, so expiring within this window. */
type ExpiryWindow = readonly [Date, Date];

interface Delivered {
  readonly total: number;
  readonly delivered: number;
  readonly first: Date | null;
  readonly last: Date | null;
}

/** How long to wait for a run's deliveries, from the dispatchers' start. */
const DEADLINE_MS = 180_000;

export async function measureDelivery(run: DeliveryRun): Promise<DeliveryResult> {
  await resetProvider(run.providerUrl);
  const since = new Date();
  const window: ExpiryWindow = [
    new Date(since.getTime() + run.lifetimeSeconds * 1000 - 1000),
    new Date(since.getTime() + run.lifetimeSeconds * 1000 + 600_000),
  ];
  // Distinct phones per run (its lifetime tells runs apart), all valid Kazakh mobiles (7701…, 7702…):
  // the API refuses numbers the numbering plan calls invalid.
  const phoneBase = 77_010_000_000 + (Math.floor(run.lifetimeSeconds / 60) % 100) * 100_000;
  await createBacklog(run.apiUrl, run.pool, run.events, run.lifetimeSeconds, phoneBase);
  run.log(`  ${run.events} OTPs created, events in RabbitMQ; starting the dispatcher(s)`);

  const startedAt = Date.now();
  const dispatchers = run.startDispatchers();
  // One dispatcher is `dispatcher`; several, `dispatcher-1`, `dispatcher-2` …: each is one thread.
  const roles: Roles = { ...run.roles };
  if (dispatchers.length === 1) roles.dispatcher = [dispatchers[0]?.pid ?? 0];
  else for (const [k, d] of dispatchers.entries()) roles[`dispatcher-${k + 1}`] = [d.pid];
  const before = snapshot(roles);
  const deadline = Date.now() + DEADLINE_MS;
  await waitUntilDelivered(run, window, deadline);
  const after = snapshot(roles);
  const doneAt = Date.now();
  const counted = await waitForStatusRows(run, window, deadline);
  await Promise.all(dispatchers.map((d) => d.stop()));

  const { seconds, duplicates } = await deliverySpan(run, counted);
  return {
    name: run.name,
    events: run.events,
    eventsPerSecond: (run.events - 1) / Math.max(seconds, 0.001),
    wallSeconds: (doneAt - startedAt) / 1000,
    duplicates,
    cores: coresBetween(before, after),
  };
}

/** Until the provider has recorded every event (DUMMY: until every status row says delivered). */
async function waitUntilDelivered(run: DeliveryRun, window: ExpiryWindow, deadline: number): Promise<void> {
  for (;;) {
    if (run.dummy) {
      if ((await countDelivered(run.pool, window)).delivered >= run.events) return;
    } else {
      const c = (await control(run.providerUrl, "/__control")) as { recorded: number };
      if (c.recorded >= run.events) return;
    }
    if (Date.now() > deadline) throw new Error(`${run.name}: not all ${run.events} delivered within 180 s`);
    await sleep(50);
  }
}

/** The status rows follow the provider's answers closely; waits for all of them. */
async function waitForStatusRows(run: DeliveryRun, window: ExpiryWindow, deadline: number): Promise<Delivered> {
  let counted = await countDelivered(run.pool, window);
  while (counted.delivered < run.events && Date.now() < deadline) {
    await sleep(100);
    counted = await countDelivered(run.pool, window);
  }
  if (counted.delivered < run.events) throw new Error(`${run.name}: ${counted.delivered} of ${run.events} delivered`);
  return counted;
}

async function countDelivered(pool: pg.Pool, window: ExpiryWindow): Promise<Delivered> {
  const { rows } = await pool.query<Delivered>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE delivery_status = 'delivered')::int AS delivered,
       min(delivered_at) AS first, max(delivered_at) AS last
     FROM otp WHERE expire_at BETWEEN $1 AND $2`,
    [...window],
  );
  return rows[0] as Delivered;
}

/**
 * Seconds between the first and the last delivery: the provider's first and last request (and how
 * many requests were redeliveries), or in DUMMY mode the first and last `delivered_at`.
 */
async function deliverySpan(run: DeliveryRun, counted: Delivered): Promise<{ seconds: number; duplicates: number }> {
  if (run.dummy) {
    return { seconds: ((counted.last?.getTime() ?? 0) - (counted.first?.getTime() ?? 0)) / 1000, duplicates: 0 };
  }
  const { requests } = (await control(run.providerUrl, "/__requests?path=/task")) as {
    requests: { receivedAt: number; headers: Record<string, string> }[];
  };
  const times = requests.map((r) => r.receivedAt);
  return {
    seconds: (Math.max(...times) - Math.min(...times)) / 1000,
    duplicates: requests.length - new Set(requests.map((r) => r.headers["idempotency-key"])).size,
  };
}
