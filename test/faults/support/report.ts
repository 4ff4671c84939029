import type { Attempt } from "./load.js";
import type { ProviderRecord } from "./services.js";

/** A stretch of the run: one fault and the recovery after it. */
export interface Phase {
  readonly name: string;
  readonly fault: string;
  from: number;
  to: number;
  /** What was measured during the fault, for the report. */
  readonly notes: string[];
}

export interface DbRow {
  readonly id: string;
  readonly target: string;
  readonly delivery_status: string;
  readonly delivery_attempts: number;
  readonly delivery_last_error: string | null;
}

export interface PhaseStats {
  readonly phase: Phase;
  readonly sent: number;
  readonly accepted: number;
  /** Non-2xx answers by status. */
  readonly refused: Map<number, number>;
  /** Requests without an answer, by error code. */
  readonly noAnswer: Map<string, number>;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface Outcome {
  readonly accepted: Attempt[];
  readonly delivered: number;
  /** Accepted, and no 2xx from the provider for its target. */
  readonly lost: Attempt[];
  /** Accepted OTPs the provider answered 2xx for more than once. */
  readonly duplicated: number;
  readonly extraDeliveries: number;
  /** Requests that got no 2xx (no answer, or an error) but whose OTP was stored anyway. */
  readonly storedWithoutAnswer: number;
  readonly storedWithoutAnswerDelivered: number;
  /** Provider requests by answer (200, 503, reset, held…). */
  readonly providerAnswers: Map<string, number>;
  /** Targets whose first request was held open (never answered) and which were delivered later. */
  readonly heldThenDelivered: number;
  readonly dbStatus: Map<string, number>;
  readonly outboxRows: number;
}

/** The target a provider request was for: the Queue task's `json.phones` or `json.to`. */
export function targetOf(record: ProviderRecord): string | undefined {
  const task = record.json as { json?: { phones?: unknown; to?: unknown } } | undefined;
  const value = task?.json?.phones ?? task?.json?.to;
  return value === undefined || value === null ? undefined : String(value);
}

const ok = (answer: ProviderRecord["answer"]) => typeof answer === "number" && answer >= 200 && answer < 300;

function count<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export function phaseStats(attempts: readonly Attempt[], phases: readonly Phase[]): PhaseStats[] {
  return phases.map((phase) => {
    const mine = attempts.filter((a) => a.phase === phase.name);
    const refused = new Map<number, number>();
    const noAnswer = new Map<string, number>();
    const latencies: number[] = [];
    let accepted = 0;
    for (const a of mine) {
      if (a.endedAt !== undefined) latencies.push(a.endedAt - a.startedAt);
      if (a.status === undefined) count(noAnswer, a.error ?? "unknown");
      else if (a.status >= 200 && a.status < 300) accepted++;
      else count(refused, a.status);
    }
    latencies.sort((x, y) => x - y);
    return {
      phase,
      sent: mine.length,
      accepted,
      refused,
      noAnswer,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
    };
  });
}

export function analyse(
  attempts: readonly Attempt[],
  records: readonly ProviderRecord[],
  rows: readonly DbRow[],
  outboxRows: number,
): Outcome {
  const okByTarget = new Map<string, number>();
  const byTarget = new Map<string, ProviderRecord[]>();
  const providerAnswers = new Map<string, number>();
  for (const r of records) {
    count(providerAnswers, String(r.answer ?? "none"));
    const target = targetOf(r);
    if (target === undefined) continue;
    if (ok(r.answer)) count(okByTarget, target);
    const list = byTarget.get(target) ?? [];
    list.push(r);
    byTarget.set(target, list);
  }
  const accepted = attempts.filter((a) => a.otpId !== undefined);
  const lost = accepted.filter((a) => (okByTarget.get(a.target) ?? 0) === 0);
  let duplicated = 0;
  let extraDeliveries = 0;
  for (const a of accepted) {
    const n = okByTarget.get(a.target) ?? 0;
    if (n > 1) {
      duplicated++;
      extraDeliveries += n - 1;
    }
  }
  const stored = new Set(rows.map((r) => r.target));
  const unanswered = attempts.filter((a) => a.otpId === undefined && stored.has(a.target));
  let heldThenDelivered = 0;
  for (const list of byTarget.values()) {
    if (list[0]?.answer === "held" && list.some((r) => ok(r.answer))) heldThenDelivered++;
  }
  const dbStatus = new Map<string, number>();
  for (const r of rows) count(dbStatus, r.delivery_status);
  return {
    accepted,
    delivered: accepted.length - lost.length,
    lost,
    duplicated,
    extraDeliveries,
    storedWithoutAnswer: unanswered.length,
    storedWithoutAnswerDelivered: unanswered.filter((a) => (okByTarget.get(a.target) ?? 0) > 0).length,
    providerAnswers,
    heldThenDelivered,
    dbStatus,
    outboxRows,
  };
}

const fmtMap = <K>(map: Map<K, number>, unit = "") =>
  map.size === 0
    ? "0"
    : [...map.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${v} × ${k}${unit}`)
        .join(", ");

const sum = (map: Map<unknown, number>) => [...map.values()].reduce((a, b) => a + b, 0);

export interface ReportInput {
  readonly profile: string;
  readonly rate: number;
  readonly providerLatencyMs: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly settleMs: number;
  readonly stats: readonly PhaseStats[];
  readonly outcome: Outcome;
  readonly skipped: number;
}

export function formatReport(input: ReportInput): string {
  const { outcome: o } = input;
  const lines: string[] = [];
  lines.push(
    `## Fault-injection run (${input.profile}) — ${new Date(input.startedAt).toISOString()}`,
    "",
    `Steady load: ${input.rate} creates/s (sms, call, email, telegram; one target per request); ` +
      `the provider answers after ${input.providerLatencyMs} ms; 1 API, 2 dispatchers; ` +
      `${(input.durationMs / 1000).toFixed(0)} s in all, of which ${(input.settleMs / 1000).toFixed(1)} s ` +
      `settling after the load stopped. Sends skipped because ${"too many were in flight"}: ${input.skipped}.`,
    "",
    "| OTPs accepted | delivered | lost | delivered more than once | extra deliveries | created without a 2xx answer (delivered) |",
    "|---:|---:|---:|---:|---:|---:|",
    `| ${o.accepted.length} | ${o.delivered} | ${o.lost.length} | ${o.duplicated} | ${o.extraDeliveries} | ` +
      `${o.storedWithoutAnswer} (${o.storedWithoutAnswerDelivered}) |`,
    "",
    "| phase | fault | creates sent | 2xx | refused (status) | no answer | latency p50 / p99 / max | measured |",
    "|---|---|---:|---:|---|---|---|---|",
  );
  for (const s of input.stats) {
    lines.push(
      `| ${s.phase.name} | ${s.phase.fault} | ${s.sent} | ${s.accepted} | ` +
        `${sum(s.refused) === 0 ? "0" : fmtMap(s.refused)} | ${sum(s.noAnswer) === 0 ? "0" : fmtMap(s.noAnswer)} | ` +
        `${s.p50} / ${s.p99} / ${s.max} ms | ${s.phase.notes.join("; ")} |`,
    );
  }
  lines.push(
    "",
    `Provider requests by answer: ${fmtMap(o.providerAnswers)}. ` +
      `Deliveries first held open at the provider and delivered again later: ${o.heldThenDelivered}.`,
    `Database at the end: delivery status ${fmtMap(o.dbStatus)}; outbox rows ${o.outboxRows}.`,
    "",
  );
  return lines.join("\n");
}
