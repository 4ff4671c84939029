import { digestPassword } from "@otp/contracts";
import type { Bench } from "../bench.js";
import type { Roles } from "../cpu.js";
import { type ExtraApi, startExtraApi } from "../extra-api.js";
import { checkBody, createBody, PhoneSequence, randomPhone } from "../http/bodies.js";
import { type OldRowsRound, oldRowsReport } from "../report/old-rows.js";
import { seedLiveCodes } from "../seed/live-codes.js";
import { seedOldRows } from "../seed/old-rows.js";
import { at16, VERIFIED } from "./peer.js";
import type { Phase } from "./phase.js";

const CREATE_BASE = 77_080_000_000;

/**
 * Creates and checks with `--old-rows` old rows in `otp` (5 M by default) against an empty table,
 * in alternation round after round (docs/performance.md, "Old rows"): two more API processes, each
 * on a database of its own, one of them seeded. `--old-rows 0` skips the phase.
 */
export const oldRows: Phase = {
  name: "old rows",
  group: "rows",
  async run(bench) {
    if (bench.options.oldRows <= 0) {
      bench.log("old rows: skipped (--old-rows 0)");
      return { lines: [], targets: [] };
    }
    const empty = await startExtraApi(bench, { name: "empty" });
    const full = await startExtraApi(bench, { name: "old" });
    const digest = digestPassword(bench.scratch.keys, "12345");
    for (const api of [empty, full]) await seedLiveCodes(api.pool, digest, VERIFIED);
    bench.log(`old rows: seeding ${bench.options.oldRows.toLocaleString("en-US")} rows`);
    const seedSeconds = await seedOldRows(full.pool, { count: bench.options.oldRows }, bench.log);
    const size = await tableSize(full);
    const rounds: OldRowsRound[] = [];
    const phones = { empty: new PhoneSequence(CREATE_BASE), full: new PhoneSequence(CREATE_BASE) };
    for (let round = 1; round <= bench.options.rounds; round++) {
      bench.log(
        `old rows round ${round}: creates, then checks, ${round % 2 === 1 ? "empty then full" : "full then empty"}`,
      );
      rounds.push(await measureRound(bench, { empty, full }, phones, round));
    }
    // Idle from here on, but their relays and sweepers would still run during the later phases.
    await Promise.all([empty.process.stop(), full.process.stop()]);
    return oldRowsReport(rounds, { rows: bench.options.oldRows, seedSeconds, ...size });
  },
};

async function measureRound(
  bench: Bench,
  apis: { empty: ExtraApi; full: ExtraApi },
  phones: { empty: PhoneSequence; full: PhoneSequence },
  round: number,
): Promise<OldRowsRound> {
  // The measured API's CPU is `api`; the other two API processes, idle meanwhile, `api-idle`.
  const roles = (measured: ExtraApi, idle: ExtraApi): Roles => ({
    ...bench.roles,
    api: [measured.process.pid],
    "api-idle": [idle.process.pid, ...(bench.roles.api ?? [])],
  });
  const { empty, full } = apis;
  const create = (api: ExtraApi, idle: ExtraApi, seq: PhoneSequence) =>
    at16(bench, api.url, "POST", "/sms", () => createBody(seq.next()), undefined, roles(api, idle));
  const verified = () => checkBody(randomPhone(VERIFIED.base, VERIFIED.count), "12345");
  const check = (api: ExtraApi, idle: ExtraApi) =>
    at16(bench, api.url, "GET", "/sms/check", verified, '{"status":true}', roles(api, idle));
  // Odd rounds measure the empty table first, even rounds the full one: neither always runs second.
  const pair = async <T>(onEmpty: () => Promise<T>, onFull: () => Promise<T>): Promise<[T, T]> => {
    if (round % 2 === 1) return [await onEmpty(), await onFull()];
    const fullFirst = await onFull();
    return [await onEmpty(), fullFirst];
  };
  const [emptyCreate, fullCreate] = await pair(
    () => create(empty, full, phones.empty),
    () => create(full, empty, phones.full),
  );
  const [emptyCheck, fullCheck] = await pair(
    () => check(empty, full),
    () => check(full, empty),
  );
  return { round, emptyCreate, fullCreate, emptyCheck, fullCheck };
}

/** The seeded table's size on disk: heap, indexes, and the average row as stored. */
async function tableSize(api: ExtraApi): Promise<{ heapBytes: number; indexBytes: number; rowBytes: number }> {
  const { rows } = await api.pool.query<{ heap: string; indexes: string; row: string }>(
    `SELECT pg_table_size('otp') AS heap, pg_indexes_size('otp') AS indexes,
       (SELECT avg(pg_column_size(o.*)) FROM (SELECT * FROM otp TABLESAMPLE SYSTEM (1)) o) AS row`,
  );
  const r = rows[0];
  return { heapBytes: Number(r?.heap), indexBytes: Number(r?.indexes), rowBytes: Number(r?.row) };
}
