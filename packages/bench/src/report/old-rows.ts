import type { Measurement } from "../load.js";
import { mean } from "./costs.js";
import { int, lat } from "./format.js";
import type { ReportPart } from "./part.js";
import { ratioTarget, type Target, times } from "./targets.js";

/** One round of the old-rows comparison, in the order measured. */
export interface OldRowsRound {
  readonly round: number;
  readonly emptyCreate: Measurement;
  readonly fullCreate: Measurement;
  readonly emptyCheck: Measurement;
  readonly fullCheck: Measurement;
}

export interface Seeded {
  readonly rows: number;
  readonly seedSeconds: number;
  readonly heapBytes: number;
  readonly indexBytes: number;
  /** Average `pg_column_size` of a row (a sample). */
  readonly rowBytes: number;
}

const MB = 2 ** 20;

/** The old-rows phase's part: each round, full beside empty, the seed, and the 0.9× targets. */
export function oldRowsReport(rounds: readonly OldRowsRound[], seeded: Seeded): ReportPart {
  if (rounds.length === 0) return { lines: [], targets: [] };
  const lines = [
    `| with ${int(seeded.rows)} old rows, 16 connections | round | req/s | p50 / p99 ms | empty table, same round: req/s | p50 / p99 ms | ÷ empty | errors | failed checks |`,
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const [name, full, empty] of [
    ["`POST /sms`", "fullCreate", "emptyCreate"],
    ["`GET /sms/check`, right code, already verified", "fullCheck", "emptyCheck"],
  ] as const) {
    for (const r of rounds) {
      const f = r[full];
      const e = r[empty];
      lines.push(
        `| ${name} | ${r.round} | ${int(f.rps)} | ${lat(f)} | ${int(e.rps)} | ${lat(e)} | ${times(f.rps / e.rps)} | ` +
          `${int(f.errors + e.errors)} | ${full === "fullCheck" ? int(f.mismatches + e.mismatches) : "–"} |`,
      );
    }
  }
  const total = seeded.heapBytes + seeded.indexBytes;
  lines.push(
    "",
    `Two more API processes, each on a database of its own, measured in alternation (creates, then checks; the empty ` +
      `table first in odd rounds, the full one first in even rounds). Seeding ${int(seeded.rows)} rows (\`INSERT … SELECT generate_series\`: 70 % sms, 10 % call, ` +
      `15 % email, 5 % telegram, about two codes per target, created over the past 7 days, all expired, 60 % verified; ` +
      `indexes dropped and built again after) took ${seeded.seedSeconds.toFixed(0)} s. On disk: table ` +
      `${int(seeded.heapBytes / MB)} MiB, indexes ${int(seeded.indexBytes / MB)} MiB — ${int(total / seeded.rows)} bytes ` +
      `per row in all, ${int(seeded.rowBytes)} of them the row itself (\`pg_column_size\`).`,
  );
  return { lines, targets: oldRowsTargets(rounds, seeded.rows) };
}

export function oldRowsTargets(rounds: readonly OldRowsRound[], rows: number): Target[] {
  const rate = (key: keyof Omit<OldRowsRound, "round">) =>
    mean(
      rounds.map((r) => r[key]),
      (m) => m.rps,
    );
  const n = `${(rows / 1e6).toLocaleString("en-US")} M`;
  return [
    ratioTarget(`\`POST /sms\` with ${n} old rows ≥ 0.9× an empty table`, rate("fullCreate"), rate("emptyCreate"), 0.9),
    ratioTarget(
      `\`GET /sms/check\` with ${n} old rows ≥ 0.9× an empty table`,
      rate("fullCheck"),
      rate("emptyCheck"),
      0.9,
    ),
  ];
}
