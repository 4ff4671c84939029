import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deleteTestTopology, testPrefix } from "@otp/broker/testing";
import { newWebhookSecret } from "@otp/contracts";
import { createPool } from "@otp/db";
import { basePgConfig, createTestDatabase, type TestDatabase } from "@otp/db/testing";
import {
  ensureRabbitMq,
  freePort,
  killAll,
  type NodeProcess,
  type Outage,
  restartRabbitMq,
  sleep,
  until,
} from "@otp/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { ensurePostgres, PG_STOP_MODE, restartPostgres } from "./support/infra.js";
import { type Attempt, LoadGenerator } from "./support/load.js";
import { LOG_DIR, ROOT } from "./support/processes.js";
import { profileFromEnv } from "./support/profile.js";
import { analyse, type DbRow, formatReport, type Phase, phaseStats, targetOf } from "./support/report.js";
import {
  health,
  ProviderControl,
  type ProviderRecord,
  type SystemConfig,
  startApi,
  startDispatcher,
  startProvider,
} from "./support/services.js";
import { COUNTED_EVENTS, formatWebhookTally, tallyWebhooks, type WebhookTally } from "./support/webhooks.js";

/**
 * The fault-injection suite (`pnpm test:faults`, docs/operations.md): the real API, two dispatchers and
 * a recording provider, each a process of its own running the build, on their own database and
 * RabbitMQ prefix, under a steady stream of OTP creations. One after the other, with recovery time
 * between: a dispatcher is SIGKILLed with deliveries in flight, RabbitMQ is restarted, the provider
 * fails a share of its calls, PostgreSQL is restarted, and the API is SIGTERMed and started again.
 * Then every accepted OTP must have reached the provider (duplicates are counted, not failed),
 * the database must say `delivered` for each, and the outbox must be empty.
 *
 * It stops and starts the local PostgreSQL and RabbitMQ: nothing else may use them meanwhile.
 */

/** Two returns of a deferred webhook at the longest deferral step (32 s, plus jitter). */
const WEBHOOK_DEFERRAL_ROOM_MS = 70_000;

const profile = profileFromEnv();
const REPORT_FILE = join(ROOT, `test/faults/last-report.${profile.name}.md`);
/** Lifetimes far beyond the run: nothing may legitimately expire. */
const LIFETIME_S = 3_600;
/** No answer may take longer than this, whatever is down. */
const CLIENT_TIMEOUT_MS = 10_000;
/** While PostgreSQL is down the API answers 503 within this (its pool gives up connecting after 5 s). */
const PG_DOWN_ANSWER_BOUND_MS = 6_000;
/** The provider's answer time throughout: deliveries are in flight whenever a fault hits. */
const PROVIDER_LATENCY_MS = 150;
/** Creates sent at once right before the API's SIGTERM. */
const API_STOP_BURST = 40;

const prefix = testPrefix("faults");
const rabbitmqUrl = inject("rabbitmqUrl");
let database: TestDatabase | undefined;
let load: LoadGenerator | undefined;

beforeAll(async () => {
  await ensurePostgres();
  await ensureRabbitMq();
  database = await createTestDatabase(basePgConfig(), inject("pgTemplate"));
});

afterAll(async () => {
  await load?.stop().catch(() => {});
  await killAll();
  // Never leave the shared servers stopped, whatever failed.
  await ensurePostgres();
  await ensureRabbitMq();
  await database?.drop().catch((error) => console.error("could not drop the test database:", error));
  await deleteTestTopology(rabbitmqUrl, prefix).catch((error) =>
    console.error("could not delete the topology:", error),
  );
});

function isUnavailableEnvelope(a: Attempt): boolean {
  if (a.status !== 503 || !a.contentType?.includes("application/json")) return false;
  try {
    const body = JSON.parse(a.body ?? "") as Record<string, unknown>;
    return body.status === false && body.status_code === "unavailable" && typeof body.message === "string";
  } catch {
    return false;
  }
}

const describeAttempt = (a: Attempt) =>
  `#${a.seq} ${a.channel} ${a.target} at +${a.startedAt % 100_000} ms: ` +
  (a.status === undefined ? `no answer (${a.error})` : `HTTP ${a.status} ${a.body?.slice(0, 120)}`) +
  ` after ${(a.endedAt ?? a.startedAt) - a.startedAt} ms`;

it(`loses no accepted OTP under faults (profile ${profile.name})`, async () => {
  if (!database) throw new Error("no database");
  const startedAt = Date.now();
  const sys: SystemConfig = {
    pg: database.config,
    rabbitmqUrl,
    prefix,
    apiPort: await freePort(),
    providerPort: await freePort(),
    secret: "the fault-injection suite's secret",
    webhooks: { secret: newWebhookSecret(), events: COUNTED_EVENTS },
  };
  const control = new ProviderControl(sys.providerPort);
  const processes: NodeProcess[] = [];
  const track = <T extends NodeProcess>(p: T): T => {
    processes.push(p);
    return p;
  };
  track(await startProvider(sys));
  await control.setDelay(PROVIDER_LATENCY_MS);
  let api = track(await startApi(sys, "api-1"));
  const dispatchers = [
    track(await startDispatcher(sys, "dispatcher-1")),
    track(await startDispatcher(sys, "dispatcher-2")),
  ];

  const phases: Phase[] = [];
  const failures: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) failures.push(message);
  };
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
  const begin = (name: string, fault: string): Phase => {
    const now = Date.now();
    const previous = phases.at(-1);
    if (previous) previous.to = now;
    const phase: Phase = { name, fault, from: now, to: now, notes: [] };
    phases.push(phase);
    generator.phase = name;
    return phase;
  };

  // Warm-up: traffic with nothing wrong.
  begin("warmup", "none");
  generator.start();
  await sleep(profile.warmupMs);

  // 1. A dispatcher dies with deliveries in flight: the provider holds every request open, the
  //    dispatcher is SIGKILLed, another starts, and the provider answers again.
  const p1 = begin("dispatcher-kill", "SIGKILL dispatcher-1 with deliveries held open; start dispatcher-3");
  await control.hold();
  // Goes on after 5 s whatever is held: the check below says whether any was.
  await until(async () => (await control.snapshot()).held >= profile.minHeld, { timeoutMs: 5_000 }).catch(() => {});
  const heldAtKill = (await control.snapshot()).held;
  const victim = dispatchers.shift() as NodeProcess;
  victim.signal("SIGKILL");
  const killed = await victim.exited;
  const replacementStarted = Date.now();
  dispatchers.push(track(await startDispatcher(sys, "dispatcher-3")));
  await control.release();
  p1.notes.push(
    `${heldAtKill} deliveries held open at the kill (${killed.signal}); dispatcher-3 consuming after ${Date.now() - replacementStarted} ms`,
  );
  check(killed.signal === "SIGKILL", `dispatcher-1 ended by ${killed.signal ?? killed.code}, not SIGKILL`);
  check(heldAtKill > 0, "no delivery was in flight when dispatcher-1 was killed");
  await sleep(profile.recoveryMs);

  // 2. RabbitMQ restarts: the API keeps accepting (the outbox holds the events), the relay
  //    publishes them once it is back, the dispatchers reconnect.
  const p2 = begin("rabbitmq-restart", `RabbitMQ stop_app, ${profile.brokerDownMs / 1000} s down, start_app`);
  let apiHealthBrokerDown: unknown;
  const brokerOutage = await restartRabbitMq(profile.brokerDownMs, async () => {
    apiHealthBrokerDown = await healthWhen(sys.apiPort, (h) => h.status === 503, profile.brokerDownMs - 500);
  });
  check(
    JSON.stringify(apiHealthBrokerDown) ===
      JSON.stringify({ status: 503, body: { status: false, content: { database: true, broker: false } } }),
    `API /health while RabbitMQ was down: ${JSON.stringify(apiHealthBrokerDown)}`,
  );
  p2.notes.push(`API /health meanwhile: ${brief(apiHealthBrokerDown)}`);
  p2.notes.push(
    `stop took ${brokerOutage.downFrom - brokerOutage.stopIssuedAt} ms, down ${brokerOutage.downUntil - brokerOutage.downFrom} ms, ` +
      `start ${brokerOutage.upAt - brokerOutage.downUntil} ms`,
  );
  await sleep(profile.recoveryMs);

  // 3. The provider fails a share of its calls: 5 % connection resets, then 30 % of the rest 503.
  const p3 = begin(
    "provider-faults",
    `provider: 5 % connection resets, 30 % of the rest HTTP 503, ${profile.providerFaultMs / 1000} s`,
  );
  const faultFrom = Date.now();
  await control.addRules([
    { action: "reset", rate: 0.05 },
    { status: 503, rate: 0.3 },
  ]);
  await sleep(profile.providerFaultMs);
  await control.clearRules();
  const faultTo = Date.now();
  await sleep(profile.recoveryMs);

  // 4. PostgreSQL restarts: every create answers 503 `unavailable` in the envelope while it is down.
  const p4 = begin("postgres-restart", `PostgreSQL stop (${PG_STOP_MODE}), ${profile.pgDownMs / 1000} s down, start`);
  let apiHealthPgDown: unknown;
  const pgOutage = await restartPostgres(profile.pgDownMs, async () => {
    apiHealthPgDown = await healthWhen(sys.apiPort, (h) => h.status === 503, profile.pgDownMs - 500);
  });
  check(
    JSON.stringify(apiHealthPgDown) ===
      JSON.stringify({ status: 503, body: { status: false, content: { database: false, broker: true } } }),
    `API /health while PostgreSQL was down: ${JSON.stringify(apiHealthPgDown)}`,
  );
  p4.notes.push(`API /health meanwhile: ${brief(apiHealthPgDown)}`);
  p4.notes.push(
    `stop took ${pgOutage.downFrom - pgOutage.stopIssuedAt} ms, down ${pgOutage.downUntil - pgOutage.downFrom} ms, ` +
      `start ${pgOutage.upAt - pgOutage.downUntil} ms`,
  );
  await sleep(profile.recoveryMs);

  // 5. The API is stopped with SIGTERM (exit 0 within 10 s) and started again on the same port.
  const p5 = begin("api-restart", "SIGTERM the API, start it again");
  // It went through both restarts without being restarted itself.
  const apiHealth = await healthWhen(sys.apiPort, (h) => h.status === 200, 10_000);
  check(
    "status" in apiHealth && apiHealth.status === 200,
    `api-1 /health after the outages: ${JSON.stringify(apiHealth)}`,
  );
  // A burst just before the signal, so that requests are in flight when it comes: each must be
  // answered, or (arriving after the listener closed) refused before anything is stored.
  generator.burst(API_STOP_BURST);
  await sleep(5);
  const apiStop = await api.stop(15_000);
  api = track(await startApi(sys, "api-2"));
  const apiBackAt = Date.now();
  p5.notes.push(
    `exit ${apiStop.signal ?? apiStop.code} after ${apiStop.tookMs} ms; serving again ${apiBackAt - apiStop.at} ms after the exit`,
  );
  check(
    apiStop.code === 0 && apiStop.tookMs < 10_000,
    `the API did not exit 0 within 10 s of SIGTERM: ${apiStop.signal ?? apiStop.code} after ${apiStop.tookMs} ms`,
  );
  await sleep(profile.recoveryMs);

  begin("cooldown", "none");
  await sleep(profile.recoveryMs);
  const loadStoppedAt = Date.now();
  await generator.stop();
  const last = phases.at(-1);
  if (last) last.to = Date.now();

  // Settle: every OTP row leaves `pending`, the outbox empties, the provider has every target.
  const pool = createPool(database.config, { applicationName: "faults-check", onError: () => {} });
  const accepted = generator.attempts.filter((a) => a.otpId !== undefined);
  let records: ProviderRecord[] = [];
  let webhooks: WebhookTally | undefined;
  const webhookSecret = sys.webhooks?.secret ?? "";
  try {
    const settled = await until(
      async () => {
        const { rows } = await pool.query<{ pending: number; outbox: number }>(
          `SELECT (SELECT count(*) FROM otp WHERE delivery_status = 'pending')::int AS pending,
                  (SELECT count(*) FROM outbox)::int AS outbox`,
        );
        // Nothing pending and nothing unpublished: no delivery is still to come (only duplicates could).
        return rows[0]?.pending === 0 && rows[0]?.outbox === 0;
      },
      { timeoutMs: profile.settleTimeoutMs, intervalMs: 1_000 },
    ).then(
      () => true,
      () => false,
    );
    // The webhooks of the last deliveries come after them: the relay publishes the dispatchers'
    // events at its next pass (docs/webhooks.md, "How soon"). A webhook put back untried while its
    // subscription's slots were taken (the backlog after a broker restart) waits up to 32 s at each
    // return, unlogged (docs/webhooks.md, "Its own queue"): the wait leaves room for two such
    // returns beyond the settle time, or a late webhook would read as a lost one.
    const otpIds = accepted.map((a) => a.otpId as string);
    const webhooksSettled = await until(
      async () => tallyWebhooks(await control.requests(), otpIds, webhookSecret).lost.length === 0,
      { timeoutMs: profile.settleTimeoutMs + WEBHOOK_DEFERRAL_ROOM_MS, intervalMs: 2_000 },
    ).then(
      () => true,
      () => false,
    );
    const settleMs = Date.now() - loadStoppedAt;
    check(settled, `the system did not settle within ${profile.settleTimeoutMs / 1000} s of the load stopping`);
    records = await control.requests();
    webhooks = tallyWebhooks(records, otpIds, webhookSecret);
    check(
      webhooksSettled && webhooks.lost.length === 0,
      `${webhooks.lost.length} webhooks never arrived, e.g. ${webhooks.lost.slice(0, 3).join("; ")}`,
    );
    check(
      webhooks.emittedTwice === 0,
      `${webhooks.emittedTwice} events were emitted twice (two webhook-ids for one OTP and type)`,
    );
    check(webhooks.badSignatures === 0, `${webhooks.badSignatures} webhooks with a bad signature`);

    // Dispatchers are healthy again without a restart, and stop cleanly, after all this.
    for (const d of dispatchers) {
      const h = await healthWhen(d.healthPort ?? 0, (x) => x.status === 200, 10_000);
      check("status" in h && h.status === 200, `${d.name} /health after the outages: ${JSON.stringify(h)}`);
      const stop = await d.stop(15_000);
      check(
        stop.code === 0 && stop.tookMs < 10_000,
        `${d.name}: SIGTERM gave ${stop.signal ?? stop.code} after ${stop.tookMs} ms`,
      );
    }

    const rows = (
      await pool.query<DbRow>(
        "SELECT id, target, delivery_status, delivery_attempts, delivery_last_error FROM otp ORDER BY created_at",
      )
    ).rows;
    const outboxRows = Number((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox")).rows[0]?.n);

    // Per-fault expectations.
    const attempts = generator.attempts;
    const inPhase = (p: Phase) => attempts.filter((a) => a.phase === p.name);
    const within = (o: Outage) => (a: Attempt) => a.startedAt >= o.downFrom && (a.endedAt ?? Infinity) <= o.downUntil;
    const bad = (list: Attempt[], what: string) => {
      if (list.length > 0)
        failures.push(`${what}: ${list.length}, e.g.\n    ${list.slice(0, 5).map(describeAttempt).join("\n    ")}`);
    };
    bad(
      attempts.filter((a) => a.status !== undefined && a.status >= 500 && a.status !== 503),
      "answers 5xx other than 503",
    );
    bad(
      attempts.filter((a) => a.status !== undefined && !a.contentType?.includes("application/json")),
      "answers that are not JSON",
    );
    bad(
      attempts.filter((a) => a.error === "timeout"),
      `requests without an answer within ${CLIENT_TIMEOUT_MS} ms`,
    );
    for (const name of ["warmup", "dispatcher-kill", "rabbitmq-restart", "provider-faults", "cooldown"]) {
      const p = phases.find((x) => x.name === name) as Phase;
      bad(
        inPhase(p).filter((a) => a.status !== 200),
        `${name}: creates not accepted (the API does not depend on the broker, dispatchers or provider)`,
      );
    }
    const duringBrokerOutage = attempts.filter(within(brokerOutage));
    p2.notes.push(
      `${duringBrokerOutage.filter((a) => a.status === 200).length} creates accepted while RabbitMQ was down`,
    );
    check(duringBrokerOutage.length > 0, "no create was sent while RabbitMQ was down");

    const pgPhase = inPhase(p4);
    bad(
      pgPhase.filter((a) => a.status !== 200 && !isUnavailableEnvelope(a)),
      "postgres-restart: answers neither 200 nor 503 with the unavailable envelope",
    );
    const duringPgOutage = attempts.filter(within(pgOutage));
    bad(
      duringPgOutage.filter((a) => !isUnavailableEnvelope(a)),
      "while PostgreSQL was down: answers other than 503 unavailable",
    );
    bad(
      pgPhase.filter((a) => (a.endedAt ?? Infinity) - a.startedAt > PG_DOWN_ANSWER_BOUND_MS),
      `postgres-restart: answers slower than ${PG_DOWN_ANSWER_BOUND_MS} ms`,
    );
    check(duringPgOutage.length > 0, "no create was answered while PostgreSQL was down");
    const pgMax = Math.max(0, ...duringPgOutage.map((a) => (a.endedAt ?? 0) - a.startedAt));
    p4.notes.push(`${duringPgOutage.length} creates answered 503 unavailable while it was down (slowest ${pgMax} ms)`);

    bad(
      inPhase(p5).filter((a) => a.status !== undefined && a.status !== 200),
      "api-restart: answers other than 200 (only connection errors are expected while it is down)",
    );
    const storedTargets = new Set(rows.map((r) => r.target));
    bad(
      inPhase(p5).filter((a) => a.status === undefined && storedTargets.has(a.target)),
      "api-restart: creates stored but cut off without an answer (SIGTERM must finish requests in flight)",
    );
    const refusedAtStop = inPhase(p5).filter((a) => a.status === undefined).length;
    p5.notes.push(
      `${refusedAtStop} creates refused at the connection (${API_STOP_BURST} sent at once just before the signal)`,
    );

    const providerFaults = new Map<string, number>();
    for (const r of records) {
      if (r.receivedAt >= faultFrom && r.receivedAt <= faultTo) {
        const key = String(r.answer);
        providerFaults.set(key, (providerFaults.get(key) ?? 0) + 1);
      }
    }
    p3.notes.push(
      `provider answers meanwhile: ${[...providerFaults.entries()].map(([k, v]) => `${v} × ${k}`).join(", ")}`,
    );

    const outcome = analyse(attempts, records, rows, outboxRows);
    const notDelivered = rows.filter((r) => r.delivery_status !== "delivered");
    check(outcome.lost.length === 0, `${outcome.lost.length} accepted OTPs never reached the provider`);
    check(notDelivered.length === 0, `${notDelivered.length} OTP rows are not 'delivered' in the database`);
    check(outboxRows === 0, `${outboxRows} rows left in the outbox`);
    const ids = new Set(rows.map((r) => r.id));
    const missing = accepted.filter((a) => !ids.has(a.otpId as string));
    check(missing.length === 0, `${missing.length} accepted OTP ids have no row in the database`);

    let report = formatReport({
      profile: profile.name,
      rate: profile.rate,
      providerLatencyMs: PROVIDER_LATENCY_MS,
      startedAt,
      durationMs: Date.now() - startedAt,
      settleMs,
      stats: phaseStats(attempts, phases),
      outcome,
      skipped: generator.skipped,
    });
    if (webhooks) report += `\n${formatWebhookTally(webhooks)}`;
    if (failures.length > 0) {
      report += `\n### Failures\n\n${failures.map((f) => `- ${f}`).join("\n")}\n`;
      report += diagnostics(outcome.lost, notDelivered, rows, records, processes);
    }
    writeFileSync(REPORT_FILE, report);
    console.log(`\n${report}\n(report: ${REPORT_FILE}; process logs: ${LOG_DIR})`);
  } finally {
    await pool.end().catch(() => {});
  }

  expect(failures).toEqual([]);
});

/** `503 {"database":true,"broker":false}` from a /health answer. */
function brief(h: unknown): string {
  const answer = h as { status?: number; body?: { content?: unknown }; error?: string } | undefined;
  if (answer?.status === undefined) return String(answer?.error ?? "no answer");
  return `${answer.status} ${JSON.stringify(answer.body?.content ?? answer.body)}`;
}

/** Polls `/health` until `accept` likes the answer or `timeoutMs` passes; the last answer. */
async function healthWhen(
  port: number,
  accept: (h: { status: number; body: unknown }) => boolean,
  timeoutMs: number,
): Promise<{ status: number; body: unknown } | { error: string }> {
  let last: { status: number; body: unknown } | { error: string } = { error: "not asked" };
  await until(
    async () => {
      try {
        last = await health(port);
      } catch (error) {
        last = { error: String(error) };
        return false;
      }
      return accept(last);
    },
    { timeoutMs: Math.max(timeoutMs, 500), intervalMs: 200 },
  ).catch(() => {}); // the last answer says what it was
  return last;
}

/** What a reader needs when something was lost: each one's database row, provider requests and log lines. */
function diagnostics(
  lost: readonly Attempt[],
  notDelivered: readonly DbRow[],
  rows: readonly DbRow[],
  records: readonly ProviderRecord[],
  processes: readonly NodeProcess[],
): string {
  const byTarget = new Map(rows.map((r) => [r.target, r]));
  const out: string[] = ["\n### Diagnostics\n"];
  const suspects = new Map<string, { target: string; otpId: string | undefined; row: DbRow | undefined }>();
  for (const a of lost) suspects.set(a.target, { target: a.target, otpId: a.otpId, row: byTarget.get(a.target) });
  for (const r of notDelivered) suspects.set(r.target, { target: r.target, otpId: r.id, row: r });
  out.push(`${suspects.size} OTPs not delivered (the first 20 below).`);
  const logs = processes.map((p) => ({ name: p.name, text: safeRead(p.logFile) }));
  for (const s of [...suspects.values()].slice(0, 20)) {
    const row = s.row;
    out.push(
      `- OTP ${s.otpId} (${s.target}): database ${row ? `${row.delivery_status}, ${row.delivery_attempts} attempts, last error ${row.delivery_last_error}` : "no row"}`,
    );
    const answers = records.filter((r) => targetOf(r) === s.target).map((r) => `${r.answer} at ${r.receivedAt}`);
    out.push(`  provider: ${answers.length === 0 ? "never called" : answers.join(", ")}`);
    for (const log of logs) {
      const hits = log.text.split("\n").filter((l) => s.otpId !== undefined && l.includes(s.otpId));
      for (const hit of hits.slice(0, 8)) out.push(`  ${log.name}: ${hit.slice(0, 300)}`);
    }
  }
  for (const p of processes) {
    const lines = safeRead(p.logFile).trimEnd().split("\n");
    // Warnings and errors (pino levels 40+) tell more than the last request lines.
    const warnings = lines.filter((l) => /^\{"level":(4|5|6)0/.test(l)).slice(-15);
    out.push(
      `\n#### ${p.name} (full log ${p.logFile})\n`,
      "last warnings and errors:",
      "```",
      ...warnings,
      "```",
      "last lines:",
      "```",
      ...lines.slice(-5),
      "```",
    );
  }
  return `${out.join("\n")}\n`;
}

function safeRead(file: string | undefined): string {
  if (file === undefined) return "";
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
